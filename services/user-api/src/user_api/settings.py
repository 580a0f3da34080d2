"""Settings of the user-api service (env prefix USER_API_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from phr.service.settings import MongoSettings, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="USER_API_", env_nested_delimiter="__")

    service_name: str = "user-api"
    mongo: MongoSettings = MongoSettings(database="phr_user_api")
    #: t of the t-of-N SRS split: a segment needs t nodes' cfrags, a request t answers
    srs_threshold: int = Field(default=2, ge=1)
    #: how long one SRS node may take; a slow node counts as down (N - t may be)
    srs_timeout_s: float = Field(default=2.0, gt=0)
    #: owner-api (manifests) and cloud-store (search, ciphertext) calls without a body
    upstream_timeout_s: float = Field(default=5.0, gt=0)
    #: how long the presigned S3 URLs of a granted access stay valid (cloud-store
    #: grants at most an hour)
    access_ttl_s: int = Field(default=300, gt=0, le=3600)
    #: most records of one patient that search and listing look at for data_from checks
    max_records_per_patient: int = Field(default=1000, ge=1, le=1000)
