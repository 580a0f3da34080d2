"""Settings of the kgc service (env prefix KGC_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from phr.service.settings import MongoSettings, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KGC_", env_nested_delimiter="__")

    service_name: str = "kgc"
    mongo: MongoSettings = MongoSettings(database="phr_kgc")
    #: SRS nodes needed to re-encrypt (t of N), published in the system parameters
    threshold: int = Field(default=2, ge=1)
    #: the operator's credential (mode 0600); default: operator/operator.json beside the
    #: registry, so that directory serves as the operator's PHR_HOME for the `phr` command
    operator_file: Path | None = None
    #: lifetime of an access token (seconds)
    access_token_ttl_s: int = Field(default=300, ge=10, le=3600)
    #: lifetime of a login challenge (seconds)
    challenge_ttl_s: int = Field(default=60, ge=5, le=600)
    #: lifetime of an enrolment credential (days)
    credential_ttl_days: int = Field(default=365, ge=1)
    #: failed logins of one user id within the window before 429
    login_max_failures: int = Field(default=5, ge=1)
    #: the window login_max_failures counts in (seconds)
    login_window_s: int = Field(default=60, ge=1)

    def operator_path(self) -> Path:
        if self.operator_file is not None:
            return self.operator_file
        base = self.registry_file.parent if self.registry_file else Path(".local")
        return base / "operator" / "operator.json"
