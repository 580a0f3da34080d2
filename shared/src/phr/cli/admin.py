"""`phr admin`: the operator's backup and restore of a whole deployment (see phr.backup).

Where the deployment's state lives comes from options or the environment:
PHR_MONGO_URL, PHR_S3_ENDPOINT, PHR_S3_ACCESS_KEY, PHR_S3_SECRET_KEY_FILE (or
PHR_S3_SECRET_KEY), PHR_S3_BUCKET, PHR_KAFKA, PHR_SECRETS_DIR, PHR_OPERATOR_FILE. On the
one-machine stack `make backup DIR=…` and `make restore DIR=…` fill them in.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from phr.cli.output import emit, fail

if TYPE_CHECKING:
    from phr.backup import Deployment

app = typer.Typer(help="Operator tasks: back up and restore a deployment.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="admin")


def _env(name: str, value: str | None, default: str | None = None) -> str:
    found = value or os.environ.get(name) or default
    if not found:
        fail(f"give --{name[4:].lower().replace('_', '-')} or set {name}")
    assert found is not None
    return found


Mongo = Annotated[str | None, typer.Option("--mongo", help="MongoDB URL (env PHR_MONGO_URL)")]
S3Endpoint = Annotated[str | None, typer.Option(help="S3 host:port (env PHR_S3_ENDPOINT)")]
S3Key = Annotated[str | None, typer.Option(help="S3 access key (env PHR_S3_ACCESS_KEY)")]
S3Secret = Annotated[
    Path | None, typer.Option(help="File with the S3 secret key (env PHR_S3_SECRET_KEY_FILE)")
]
Bucket = Annotated[str | None, typer.Option(help="Ciphertext bucket (env PHR_S3_BUCKET)")]
Kafka = Annotated[str | None, typer.Option(help="Kafka bootstrap servers (env PHR_KAFKA)")]
Secrets = Annotated[Path | None, typer.Option(help="The key directory (env PHR_SECRETS_DIR)")]
Operator = Annotated[
    Path | None, typer.Option(help="The operator's credential file (env PHR_OPERATOR_FILE)")
]


def _deployment(
    mongo: str | None,
    s3_endpoint: str | None,
    s3_access_key: str | None,
    s3_secret_key_file: Path | None,
    s3_bucket: str | None,
    kafka: str | None,
    secrets_dir: Path | None,
    operator_file: Path | None,
) -> Deployment:
    from phr.backup import Deployment

    secret_file = s3_secret_key_file or os.environ.get("PHR_S3_SECRET_KEY_FILE")
    if secret_file:
        secret = Path(secret_file).read_text().strip()
    else:
        secret = _env("PHR_S3_SECRET_KEY", None)
    operator = operator_file or os.environ.get("PHR_OPERATOR_FILE")
    return Deployment(
        mongo_url=_env("PHR_MONGO_URL", mongo),
        s3_endpoint=_env("PHR_S3_ENDPOINT", s3_endpoint),
        s3_access_key=_env("PHR_S3_ACCESS_KEY", s3_access_key),
        s3_secret_key=secret,
        s3_bucket=_env("PHR_S3_BUCKET", s3_bucket, "phr-ciphertext"),
        kafka=_env("PHR_KAFKA", kafka),
        secrets_dir=Path(_env("PHR_SECRETS_DIR", str(secrets_dir) if secrets_dir else None)),
        operator_file=Path(operator) if operator else None,
    )


def _as_json(ctx: typer.Context) -> bool:
    """The global --json (before or after the subcommand)."""
    return bool(getattr(ctx.obj, "as_json", False))


def _say(as_json: bool) -> Callable[[str], None]:
    def say(line: str) -> None:
        if not as_json:
            typer.echo(f"  {line}")

    return say


def _run(verb: str, directory: Path, dep: Deployment, as_json: bool, done: str) -> None:
    from phr import backup as ops

    try:
        manifest = getattr(ops, verb)(dep, directory, say=_say(as_json))
    except (ops.BackupError, OSError) as exc:
        fail(f"{verb} failed: {exc}")
    summary = {k: v for k, v in manifest.items() if k != "files"} | {"directory": str(directory)}
    emit(summary, as_json=as_json, lines=[done])


@app.command("backup")
def backup(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="New or empty directory to write")],
    mongo: Mongo = None,
    s3_endpoint: S3Endpoint = None,
    s3_access_key: S3Key = None,
    s3_secret_key_file: S3Secret = None,
    s3_bucket: Bucket = None,
    kafka: Kafka = None,
    secrets_dir: Secrets = None,
    operator_file: Operator = None,
) -> None:
    """Back up MongoDB, the S3 objects, the event topics and the keys, while it runs.

    Example: phr admin backup /backups/2026-12-01 --mongo mongodb://127.0.0.1:27017/?replicaSet=rs0
    """
    dep = _deployment(
        mongo, s3_endpoint, s3_access_key, s3_secret_key_file, s3_bucket, kafka,
        secrets_dir, operator_file,
    )  # fmt: skip
    _run("backup", directory, dep, _as_json(ctx), f"backed up into {directory}")


@app.command("restore")
def restore(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="A directory `phr admin backup` wrote")],
    mongo: Mongo = None,
    s3_endpoint: S3Endpoint = None,
    s3_access_key: S3Key = None,
    s3_secret_key_file: S3Secret = None,
    s3_bucket: Bucket = None,
    kafka: Kafka = None,
    secrets_dir: Secrets = None,
    operator_file: Operator = None,
) -> None:
    """Restore a backup into a fresh deployment: its servers running, its services not yet.

    Example: phr admin restore /backups/2026-12-01 --secrets-dir ./secrets
    """
    dep = _deployment(
        mongo, s3_endpoint, s3_access_key, s3_secret_key_file, s3_bucket, kafka,
        secrets_dir, operator_file,
    )  # fmt: skip
    done = f"restored from {directory}; start the services now"
    _run("restore", directory, dep, _as_json(ctx), done)
