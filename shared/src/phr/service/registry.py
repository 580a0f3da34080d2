"""The deployment's registry: every process's URL and public keys (no secrets).

Written by the deployment (``deploy/local/stack.py`` or the compose file's init step);
the KGC publishes what it holds in the signed system parameters.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class RegistryEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    ed25519_public: str
    x25519_public: str | None = None


class Registry(BaseModel):
    model_config = ConfigDict(frozen=True)

    services: dict[str, RegistryEntry]

    @classmethod
    def load(cls, path: Path) -> Registry:
        return cls.model_validate_json(path.read_text())

    def url(self, name: str) -> str:
        return self.services[name].url

    def srs_nodes(self) -> dict[str, RegistryEntry]:
        return {n: e for n, e in sorted(self.services.items()) if e.x25519_public}
