"""Settings of cloud-store (env prefix CLOUD_STORE_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from phr.service.settings import MongoSettings, ServiceSettings

#: the blob route's body limit (its HTTP 413); the setting may lower it, not raise it
MAX_BLOB_BYTES = 2 * 1024**3


class S3Settings(BaseModel):
    #: S3 server host:port
    endpoint: str = "127.0.0.1:9000"
    #: cloud-store's S3 access key
    access_key: str = "phr"
    #: its secret key (or secret_key_file)
    secret_key: SecretStr = SecretStr("")
    #: file holding the secret key (a compose secret); wins over secret_key
    secret_key_file: Path | None = None
    #: the bucket holding ciphertext objects
    bucket: str = "phr-ciphertext"
    #: S3 region (SeaweedFS and MinIO accept us-east-1)
    region: str = "us-east-1"
    #: HTTPS to the S3 server
    secure: bool = False
    #: the S3 address clients see in presigned URLs (e.g. a public name in front of a
    #: private endpoint); default: ``endpoint`` itself
    public_url: str | None = None

    @property
    def client_url(self) -> str:
        scheme = "https" if self.secure else "http"
        return (self.public_url or f"{scheme}://{self.endpoint}").rstrip("/")

    def secret(self) -> str:
        if self.secret_key_file is not None:
            return self.secret_key_file.read_text().strip()
        return self.secret_key.get_secret_value()


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CLOUD_STORE_", env_nested_delimiter="__")

    service_name: str = "cloud-store"
    mongo: MongoSettings = MongoSettings(database="phr_cloud_store")
    s3: S3Settings = S3Settings()
    #: largest ciphertext object accepted (bytes); larger uploads are refused unread
    max_blob_bytes: int = Field(default=MAX_BLOB_BYTES, ge=1, le=MAX_BLOB_BYTES)
    #: objects up to this size are verified before the first byte is sent
    verify_before_send_bytes: int = 32 * 1024**2
