"""Settings of the owner-api service (env prefix OWNER_API_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from phr.service.settings import MongoSettings, ServiceSettings

MIB = 1024 * 1024
#: the segment route's body limit (its HTTP 413); the setting may lower it, not raise it
MAX_SEGMENT_BYTES = 512 * MIB


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OWNER_API_", env_nested_delimiter="__")

    service_name: str = "owner-api"
    mongo: MongoSettings = MongoSettings(database="phr_owner_api")
    #: cloud-store's base URL; default: its entry in the registry file
    cloud_store_url: str | None = None
    #: largest ciphertext of one segment (header and tags included), bytes
    max_segment_bytes: int = Field(default=MAX_SEGMENT_BYTES, ge=1, le=MAX_SEGMENT_BYTES)
    #: largest sum of a record's segment ciphertexts, bytes
    max_record_bytes: int = Field(default=1024 * MIB, ge=1)
    #: most segments in one record (the vocabulary has 10)
    max_segments: int = Field(default=16, ge=1)
    #: most keyword tags on one segment (tags of a pending upload live in one document)
    max_tags_per_segment: int = Field(default=20_000, ge=0)
    #: a pending upload untouched this long is swept: its blobs and metadata removed
    pending_ttl_s: float = Field(default=3600.0, gt=0)
    #: how long an upload's presigned S3 PUT URLs are valid (well under pending_ttl_s,
    #: so no URL outlives the sweep of its upload)
    upload_url_ttl_s: int = Field(default=900, gt=0, le=3600)
    #: how often the sweeper looks for stale pending uploads
    sweep_interval_s: float = Field(default=60.0, gt=0)
    #: the KGC's base URL (directory of users and groups); default: the registry's entry
    kgc_url: str | None = None
    #: timeout of each call to the KGC (seconds)
    kgc_timeout_s: float = Field(default=5.0, gt=0)
    #: timeout of one call to cloud-store that moves no ciphertext, seconds
    cloud_store_timeout_s: float = Field(default=10.0, gt=0)
    #: how long a revoke waits for the SRS nodes to apply it before answering 202
    revoke_confirm_timeout_s: float = Field(default=10.0, gt=0, le=60)
    #: the built patient page (``web/dist``) to serve at ``/``; none: no page
    web_dir: Path | None = None
    #: the KGC's URL as the page's browser sees it; default: the registry's public URL
    web_kgc_url: str | None = None
    #: more origins the page may connect to: the S3 endpoint of presigned URLs
    web_connect_src: list[str] = []
