"""Producers' public keys, by fingerprint: whose signatures the ledger accepts.

Today the deployment's registry file (``ed25519_public`` of every service) is the
source; the KGC will publish the same in ``/v1/params``. Whatever the source, every
replica must hold the same key set for the same stream, or their chains diverge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from phr.crypto.signing import VerifyKey
from phr.service.registry import Registry


@dataclass(frozen=True)
class ProducerKey:
    key: VerifyKey
    #: the sources (service names) that may sign with this key
    names: frozenset[str]


class ProducerKeys(Protocol):
    """Looks a producer's key up by its SHA-256 fingerprint (the envelope's ``signer``)."""

    def lookup(self, fingerprint: str) -> ProducerKey | None: ...

    def as_table(self) -> dict[str, tuple[bytes, tuple[str, ...]]]:
        """Plain data (fingerprint -> raw key, names) to hand to verifier processes."""
        ...


class StaticProducerKeys:
    """A fixed key set (tests, and the snapshot a registry file gives)."""

    def __init__(self, keys: dict[str, set[str]] | None = None) -> None:
        self._keys: dict[str, ProducerKey] = {}
        for b64, names in (keys or {}).items():
            self.add(VerifyKey.from_b64(b64), *names)

    def add(self, key: VerifyKey, *names: str) -> None:
        fp = key.fingerprint()
        old = self._keys.get(fp)
        merged = frozenset(names) | (old.names if old else frozenset())
        self._keys[fp] = ProducerKey(key, merged)

    def lookup(self, fingerprint: str) -> ProducerKey | None:
        return self._keys.get(fingerprint)

    def as_table(self) -> dict[str, tuple[bytes, tuple[str, ...]]]:
        return {fp: (pk.key.raw, tuple(sorted(pk.names))) for fp, pk in self._keys.items()}

    @classmethod
    def from_registry(cls, path: Path) -> StaticProducerKeys:
        """Every service of the registry file. Replicas sharing a key share its names."""
        registry = Registry.load(path)
        keys = cls()
        for name, entry in registry.services.items():
            # A replica ("ledger-2") signs as its service ("ledger"); accept both names.
            keys.add(VerifyKey.from_b64(entry.ed25519_public), name)
        return keys
