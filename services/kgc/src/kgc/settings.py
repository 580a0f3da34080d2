"""Settings of the kgc service (env prefix KGC_)."""

from __future__ import annotations

from phr.service.settings import MongoSettings, ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KGC_", env_nested_delimiter="__")

    service_name: str = "kgc"
    mongo: MongoSettings = MongoSettings(database="phr_kgc")
