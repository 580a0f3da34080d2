"""The deployment's registry: every process's URLs and public keys (no secrets).

Written by the deployment (``deploy/keys.py``: the compose file's init step, and the
one-machine stack ``deploy.local``); the KGC publishes what it holds in the signed system
parameters. Each process has an internal URL (``url``: what other services call, e.g.
``http://owner-api:8000`` inside the compose network) and, for the entry points clients
use, a public one (``public_url``: what the signed parameters name, e.g.
``https://phr.example.org/owner``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class RegistryEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    #: internal URL: service to service
    url: str
    #: public URL: what clients are told (the signed parameters); default the internal one
    public_url: str | None = None
    ed25519_public: str
    x25519_public: str | None = None

    @property
    def published_url(self) -> str:
        return self.public_url or self.url


class Registry(BaseModel):
    model_config = ConfigDict(frozen=True)

    services: dict[str, RegistryEntry]

    @classmethod
    def load(cls, path: Path) -> Registry:
        return cls.model_validate_json(path.read_text())

    def url(self, name: str) -> str:
        """The internal URL of ``name`` (service to service)."""
        return self.services[name].url

    def public_url(self, name: str) -> str:
        """The URL clients use for ``name`` (its public URL, else its internal one)."""
        return self.services[name].published_url

    def srs_nodes(self) -> dict[str, RegistryEntry]:
        return {n: e for n, e in sorted(self.services.items()) if e.x25519_public}
