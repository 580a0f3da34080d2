"""Typed settings. Each service subclasses :class:`ServiceSettings` with its own env prefix.

OWNER_API_MONGO__URL=mongodb://127.0.0.1:27017/?replicaSet=rs0
OWNER_API_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from phr.crypto.signing import SigningKey


class LogSettings(BaseModel):
    #: lowest level written
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: "json" (one object per line) or "console" (for people)
    format: Literal["json", "console"] = "json"
    #: also append JSON lines to this file (the local stack uses it)
    file: Path | None = None


class KafkaSettings(BaseModel):
    #: Kafka bootstrap servers, comma-separated host:port
    bootstrap_servers: str = "127.0.0.1:9092"
    #: client id shown in the broker (the process name)
    client_id: str = "phr"
    #: short timeouts: Tansu waits about half a session timeout to form a group
    session_timeout_ms: int = 6000
    #: consumer heartbeat; a third of the session timeout
    heartbeat_interval_ms: int = 2000
    #: longest a request to the broker may take
    request_timeout_ms: int = 10000
    #: bytes per producer batch (per partition). aiokafka's 16 KiB default holds ~20
    #: events; each batch is one broker round trip (an S3 write on Tansu), so a burst of
    #: requests waits on many round trips. Must stay below max_request_size (1 MiB).
    max_batch_bytes: int = 512 * 1024
    #: longest a fetch waits for new records; bounds how soon a revocation is seen
    #: (aiokafka's 500 ms default would eat half of the 1 s revocation budget)
    fetch_max_wait_ms: int = 100
    #: the partition this process writes on every topic that has it; none: the
    #: subject's (by key). The local stack gives user-api and each SRS node one of
    #: phr.access of its own: on Tansu's S3 engine producers meeting on one partition
    #: stall ~1 s (its conditional PUT of the partition's watermark loses and retries)
    producer_partition: int | None = Field(default=None, ge=0)


class MongoSettings(BaseModel):
    #: connection string without credentials (they come from username and password_file)
    url: str = "mongodb://127.0.0.1:27017/?replicaSet=rs0"
    #: this service's own database (one per service, `phr_<name>`)
    database: str
    #: how long to wait for a usable server before failing (also the connect timeout)
    server_selection_timeout_ms: int = 2000
    #: SCRAM user of this service (compose creates one per service); None: no auth
    username: str | None = None
    #: file holding that user's password (a compose secret)
    password_file: Path | None = None
    #: the database the user is defined in
    auth_source: str = "admin"

    def credentials(self) -> dict[str, Any]:
        """Keyword arguments for the client: empty without a username."""
        if self.username is None:
            return {}
        if self.password_file is None:
            raise ValueError("mongo.username is set but mongo.password_file is not")
        password = self.password_file.read_text().strip()
        return {"username": self.username, "password": password, "authSource": self.auth_source}


class ServiceSettings(BaseSettings):
    """What every service needs; secrets are SecretStr or files, never plain strings."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    #: name in logs, events (source) and tokens; one per service
    service_name: str = "phr"
    log: LogSettings = LogSettings()
    kafka: KafkaSettings = KafkaSettings()
    mongo: MongoSettings
    #: hex Ed25519 seed of this service's event-signing key, or a file holding it
    signing_key: SecretStr | None = None
    #: file holding the hex Ed25519 seed (the deployment gives one per process)
    signing_key_file: Path | None = None
    #: an unsigned dev key is refused unless this is set (tests, local experiments)
    allow_ephemeral_key: bool = False
    #: budget of each dependency check of GET /readyz
    readiness_timeout_s: float = Field(default=2.0, gt=0)
    #: OTLP/HTTP collector (e.g. http://127.0.0.1:4318) to export traces to; none: off
    #: (``OTEL_EXPORTER_OTLP_ENDPOINT`` is honoured too)
    otlp_endpoint: str | None = None
    #: how often the outbox relay looks for unsent events when not woken by a commit
    relay_interval_s: float = Field(default=1.0, gt=0)
    #: JSON file of every process's public keys and URL (see phr.service.registry)
    registry_file: Path | None = None
    #: origins whose pages may call this service from a browser (CORS), e.g. the
    #: patient's page ``["https://phr.example.org"]``; none: no cross-origin calls
    cors_origins: list[str] = []

    def load_signing_key(self) -> SigningKey:
        """The service's Ed25519 key, from the setting, the file or (dev only) a fresh one."""
        if self.signing_key is not None:
            return SigningKey.from_seed(bytes.fromhex(self.signing_key.get_secret_value().strip()))
        if self.signing_key_file is not None:
            return SigningKey.from_seed(bytes.fromhex(self.signing_key_file.read_text().strip()))
        if self.allow_ephemeral_key:
            return SigningKey.generate()
        raise ValueError(
            f"{self.service_name}: no signing key: set SIGNING_KEY or SIGNING_KEY_FILE "
            "(or ALLOW_EPHEMERAL_KEY=true outside production)"
        )
