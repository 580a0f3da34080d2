"""Record commands: upload, list, delete (and the patient's own fetch)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from phr.cli.home import CliError
from phr.cli.output import emit, human_size
from phr.cli.session import Session, run, session_from
from phr.cli.sharing import sharing_client
from phr.cli.transfer import Transfer, transfer
from phr.client.record import OwnerKeys
from phr.sdk.records import RecordsClient


def register(app: typer.Typer) -> None:
    app.command()(upload)
    app.command()(records)
    app.command()(delete)


@asynccontextmanager
async def records_client(s: Session) -> AsyncIterator[RecordsClient]:
    url = await s.service_url("owner-api")
    async with RecordsClient(url, s.tokens) as client:
        yield client


@asynccontextmanager
async def progress(s: Session, what: str) -> AsyncIterator[Transfer]:
    """A spinner on stderr for people (nothing with --json); a byte bar once the
    transfer's size is known (:meth:`Transfer.bytes`)."""
    with transfer(what, quiet=s.as_json) as shown:
        yield shown


def _patient(s: Session, patient: str | None) -> str:
    return patient or s.profile().user_id


def upload(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(help="A FHIR R4 Bundle (JSON)")],
    patient: Annotated[str | None, typer.Option(help="Patient id (default: yourself)")] = None,
) -> None:
    """Validate, segment, encrypt on this machine and upload a FHIR Bundle.

    Example: phr upload bundle.json
    """
    s = session_from(ctx)

    async def work() -> dict[str, Any]:
        try:
            doc = json.loads(bundle.read_bytes())
        except ValueError as exc:
            raise CliError(f"{bundle} is not JSON: {exc}") from None
        material = s.keys()
        patient_id = _patient(s, patient)
        if material.master is None or patient_id != material.user_id:
            raise CliError("only the patient uploads with his own keys (contributors: later)")
        async with sharing_client(s) as sharing:
            versions = await sharing.versions(patient_id)  # encrypt to the current keys
        async with records_client(s) as client:
            with transfer(f"encrypting and uploading {bundle}", quiet=s.as_json) as shown:
                info = await client.upload_record(
                    doc,
                    patient_id=patient_id,
                    keys=OwnerKeys(material.master, versions),
                    author=material.user.signing,
                    on_encrypted=shown.bytes,
                )
        return info.model_dump(mode="json")

    out = run(s, work)
    emit(
        out,
        as_json=s.as_json,
        lines=[f"record [bold]{out['record_id']}[/] ({out['status']})"],
        table=(
            ["segment", "version", "size", "resources"],
            [
                (g["name"], g["key_version"], human_size(g["size"]), g["resource_count"])
                for g in out["segments"]
            ],
        ),
    )


def records(
    ctx: typer.Context,
    patient: Annotated[str | None, typer.Option(help="Patient id (default: yourself)")] = None,
) -> None:
    """List a patient's records and segments (metadata only).

    Example: phr records
    """
    s = session_from(ctx)

    async def work() -> list[dict[str, Any]]:
        async with records_client(s) as client:
            found = await client.list_records(_patient(s, patient))
        return [r.model_dump(mode="json") for r in found]

    out = run(s, work)
    emit(
        out,
        as_json=s.as_json,
        table=(
            ["record", "status", "created", "segments"],
            [
                (
                    r["record_id"],
                    r["status"],
                    r["created_at"][:19],
                    ", ".join(g["name"] for g in r["segments"]),
                )
                for r in out
            ],
        ),
    )


def delete(
    ctx: typer.Context,
    record_id: Annotated[str, typer.Argument(help="The record to delete")],
    patient: Annotated[str | None, typer.Option(help="Patient id (default: yourself)")] = None,
) -> None:
    """Delete a record: its ciphertext, tags and capsules (a tombstone stays).

    Example: phr delete r_0123abcd
    """
    s = session_from(ctx)

    async def work() -> dict[str, Any]:
        async with records_client(s) as client:
            info = await client.delete_record(_patient(s, patient), record_id)
        return info.model_dump(mode="json")

    out = run(s, work)
    emit(out, as_json=s.as_json, lines=[f"record {record_id} deleted"])
