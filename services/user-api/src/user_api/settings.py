"""Settings of the user-api service (env prefix USER_API_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from phr.service.settings import MongoSettings, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="USER_API_", env_nested_delimiter="__")

    service_name: str = "user-api"
    mongo: MongoSettings = MongoSettings(database="phr_user_api")
