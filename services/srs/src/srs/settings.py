"""Settings of one SRS node (env prefix SRS_); each node has its own id, port and database."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from phr.service.settings import MongoSettings, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SRS_", env_nested_delimiter="__")

    service_name: str = "srs"
    node_id: str = Field(default="srs-1", pattern=r"^[a-z0-9-]{1,32}$")
    mongo: MongoSettings = MongoSettings(database="phr_srs_1")
    #: hex X25519 secret of this node: kfrags are sealed to its public key
    x25519_key_file: Path | None = None
