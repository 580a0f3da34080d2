"""Settings of the owner-api service (env prefix OWNER_API_)."""

from __future__ import annotations

from phr.service.settings import MongoSettings, ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OWNER_API_", env_nested_delimiter="__")

    service_name: str = "owner-api"
    mongo: MongoSettings = MongoSettings(database="phr_owner_api")
