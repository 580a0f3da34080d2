"""The baseline for bench/system.py: the same bytes from S3, with no crypto and no ACL.

    BASELINE_S3_ENDPOINT=127.0.0.1:9000 BASELINE_S3_ACCESS_KEY=... BASELINE_S3_SECRET_KEY=...
    BASELINE_S3_BUCKET=phr-ciphertext uvicorn bench.baseline_app:create_app --factory \
        --host 127.0.0.1 --port PORT

``GET /blob/{key}`` reads one object from S3 (the stack's SeaweedFS, minio client, a
connection pool as large as the thread pool) and returns it: what a plain FastAPI file
server in front of the same storage costs, to compare with a full secured access.
"""

from __future__ import annotations

import os

import urllib3
from fastapi import FastAPI, Response
from minio import Minio


def create_app() -> FastAPI:
    client = Minio(
        os.environ["BASELINE_S3_ENDPOINT"],
        access_key=os.environ["BASELINE_S3_ACCESS_KEY"],
        secret_key=os.environ["BASELINE_S3_SECRET_KEY"],
        secure=False,
        region="us-east-1",
        http_client=urllib3.PoolManager(maxsize=64, retries=False),
    )
    bucket = os.environ.get("BASELINE_S3_BUCKET", "phr-ciphertext")
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/readyz")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/blob/{key:path}")
    def blob(key: str) -> Response:  # sync: FastAPI runs it in its thread pool
        resp = client.get_object(bucket, key)
        try:
            data = resp.read()
        finally:
            resp.close()
            resp.release_conn()
        return Response(data, media_type="application/octet-stream")

    return app
