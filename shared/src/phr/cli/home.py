"""A user's home for the `phr` command (PHR_HOME or --home): profile and keystore.

    profile.json    public: user id, role, organisation, KGC URL, the pinned KGC key
    keystore.json   secret keys, encrypted with the user's passphrase (scrypt, 0600)
    operator.json   (the operator's home only) the admin keys the KGC wrote at first
                    start, unencrypted, mode 0600 — protected by file permissions

Several people can act on one machine, each with his own home.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from phr.crypto.export import KeyMaterial, import_secret_keys
from phr.crypto.keystore import load_keystore, save_keystore
from phr.identity.params import ParamsPin

DEFAULT_KGC_URL = "http://127.0.0.1:8001"


class CliError(Exception):
    """A failure to report on one line (no traceback)."""


class Profile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: str
    role: str
    name: str | None = None
    organisation_id: str | None = None
    department: str | None = None
    status: str = "active"
    kgc_url: str = DEFAULT_KGC_URL
    pin: ParamsPin | None = None


@dataclass(frozen=True)
class Home:
    path: Path

    @classmethod
    def resolve(cls, option: Path | None) -> Home:
        raw = option or os.environ.get("PHR_HOME") or Path.home() / ".phr"
        return cls(Path(raw).expanduser())

    @property
    def profile_file(self) -> Path:
        return self.path / "profile.json"

    @property
    def keystore_file(self) -> Path:
        return self.path / "keystore.json"

    @property
    def operator_file(self) -> Path:
        return self.path / "operator.json"

    def exists(self) -> bool:
        return self.profile_file.exists() or self.operator_file.exists()

    def load_profile(self) -> Profile:
        if self.profile_file.exists():
            return Profile.model_validate_json(self.profile_file.read_text())
        if self.operator_file.exists():
            doc = self._operator_doc()
            return Profile(
                user_id=str(doc.get("user_id")),
                role=str(doc.get("role", "admin")),
                name="operator",
                kgc_url=str(doc.get("kgc_url") or DEFAULT_KGC_URL),
            )
        raise CliError(f"no identity in {self.path}: run `phr enrol` (or set PHR_HOME)")

    def save_profile(self, profile: Profile) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.profile_file.with_suffix(".tmp")
        tmp.write_text(profile.model_dump_json(indent=2) + "\n")
        os.replace(tmp, self.profile_file)

    def needs_passphrase(self) -> bool:
        return self.keystore_file.exists()

    def load_keys(self, passphrase: str | None) -> KeyMaterial:
        """The user's secret keys (the passphrase opens the keystore)."""
        if self.keystore_file.exists():
            if passphrase is None:
                raise CliError("a passphrase is needed to open the keystore")
            return load_keystore(self.keystore_file, passphrase)
        if self.operator_file.exists():
            return import_secret_keys(self._operator_doc())
        raise CliError(f"no keys in {self.path}: run `phr enrol` (or set PHR_HOME)")

    def save_keys(self, material: KeyMaterial, passphrase: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        save_keystore(self.keystore_file, material, passphrase)

    def _operator_doc(self) -> dict[str, Any]:
        doc = json.loads(self.operator_file.read_text())
        if not isinstance(doc, dict):
            raise CliError(f"{self.operator_file} is not an operator key file")
        return doc
