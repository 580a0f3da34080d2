"""Settings of one SRS node (env prefix SRS_); each node has its own id, port and database."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from phr.service.settings import MongoSettings, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SRS_", env_nested_delimiter="__")

    service_name: str = "srs"
    #: this node's id, as in the registry and the signed parameters (srs-1 …)
    node_id: str = Field(default="srs-1", pattern=r"^[a-z0-9-]{1,32}$")
    mongo: MongoSettings = MongoSettings(database="phr_srs_1")
    #: hex X25519 secret of this node: kfrags are sealed to its public key
    x25519_key_file: Path | None = None
    #: how long one break-glass window lasts, from the requester's first emergency
    #: request on a patient (15 min: long enough for an emergency, short enough to review)
    breakglass_window_s: int = Field(default=900, gt=0)
    #: most segments one re-encryption request may name (one record has ~10 categories)
    max_segments_per_request: int = Field(default=32, gt=0)
