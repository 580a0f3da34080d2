"""Settings of the ledger (env prefix LEDGER_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from phr.events.catalog import TOPIC_LEDGER_SEQUENCE
from phr.service.settings import MongoSettings, ServiceSettings

SEQUENCE_TOPIC = TOPIC_LEDGER_SEQUENCE


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", env_nested_delimiter="__")

    service_name: str = "ledger"
    mongo: MongoSettings = MongoSettings(database="phr_ledger")
    #: consumer group of this replica's relay; each replica has its own
    group_id: str = "ledger"
    #: the C2SP checkpoint origin line, also the signed-note key name
    origin: str = "phr-exchange.local/ledger"
    #: single-partition topic whose order *is* the ledger's order (see ledger.sequencer)
    sequence_topic: str = SEQUENCE_TOPIC
    #: a block holds at most this many events (a size cut)
    block_max_entries: int = Field(default=512, ge=1, le=1_000_000)
    #: the elected writer puts a cut marker on the sequence topic this often when a block
    #: is pending (a time cut that every replica sees at the same place)
    cut_marker_interval_ms: int = Field(default=1000, ge=10)
    #: true on exactly one replica: it writes the cut markers
    write_cut_markers: bool = False
    #: copy the event topics into the sequence topic; default: the cut-marker writer does
    relay: bool | None = None
    #: processes verifying signatures (0: in the event loop's process)
    verify_workers: int = Field(default=0, ge=0, le=64)
    #: records read from the sequence topic per batch
    fetch_max_records: int = Field(default=2000, ge=1)
    #: publish rejected records to the dead-letter topic
    deadletter: bool = True

    @property
    def relays(self) -> bool:
        return self.write_cut_markers if self.relay is None else self.relay
