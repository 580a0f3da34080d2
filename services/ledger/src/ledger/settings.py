"""Settings of the ledger (env prefix LEDGER_)."""

from __future__ import annotations

from phr.service.settings import MongoSettings, ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", env_nested_delimiter="__")

    service_name: str = "ledger"
    mongo: MongoSettings = MongoSettings(database="phr_ledger")
    #: consumer group; each replica has its own so every replica reads every event
    group_id: str = "ledger"
