"""Data-user commands (search, fetch, breakglass) and the verified audit trail."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from phr.cli.home import CliError
from phr.cli.output import emit
from phr.cli.records import progress
from phr.cli.session import Session, run, session_from
from phr.cli.sharing import parse_segments
from phr.crypto.pre import PreSecretKey
from phr.crypto.search import normalise_keyword
from phr.crypto.signing import VerifyKey
from phr.fhir.keywords import code_keyword
from phr.ledger.verify import LedgerVerificationError, verify_checkpoint, verify_inclusion
from phr.ledger.wire import AuditTrailOut
from phr.sdk.access import AccessClient, AccessDenied
from phr.sdk.errors import raise_for_problem
from phr.sdk.groups import member_group_key
from phr.sdk.records import RecordsClient
from phr.sdk.transport import new_client


def register(app: typer.Typer) -> None:
    app.command()(search)
    app.command()(fetch)
    app.command()(breakglass)
    app.command()(audit)


@asynccontextmanager
async def access_client(s: Session) -> AsyncIterator[AccessClient]:
    material = s.keys()
    params = await s.params()
    kgc_url = s.kgc_url

    async def group_key(group_id: str, public_key: str) -> PreSecretKey | None:
        try:
            return await member_group_key(
                kgc_url, await s.token("kgc"), material.user, group_id, public_key=public_key
            )
        except Exception:  # noqa: BLE001 - not a member: the grant is not for us
            return None

    async with AccessClient.from_params(
        await s.service_url("user-api"),
        s.tokens,
        keys=material.user,
        params=params,
        user_id=s.profile().user_id,
        group_key_resolver=group_key,
    ) as client:
        yield client


def search(
    ctx: typer.Context,
    patient: Annotated[
        str | None, typer.Option(help="One patient (default: all who granted you)")
    ] = None,
    code: Annotated[
        str | None, typer.Option(help="SYSTEM|CODE, e.g. http://loinc.org|4548-4")
    ] = None,
    word: Annotated[str | None, typer.Option(help="A word of a display text")] = None,
) -> None:
    """Find granted records by a code or a word (trapdoors: the index learns nothing else).

    Example: phr search --patient u_1234 --code 'http://loinc.org|4548-4'
    """
    s = session_from(ctx)
    if (code is None) == (word is None):
        raise typer.BadParameter("give exactly one of --code or --word")
    if code is not None:
        system, sep, value = code.rpartition("|")
        if not sep or not system or not value:
            raise typer.BadParameter("write a code as SYSTEM|CODE", param_hint="--code")
        term = code_keyword(system, value)
    else:
        assert word is not None
        term = normalise_keyword(word)

    async def work() -> list[dict[str, str]]:
        async with access_client(s) as client:
            found = await client.search([term], patient_id=patient)
        return [
            {"patient_id": m.patient_id, "record_id": m.record_id, "segment": m.segment}
            for m in found
        ]

    out = run(s, work)
    emit(
        out,
        as_json=s.as_json,
        lines=[] if out else ["no granted record matches"],
        table=(["patient", "record", "segment"], [tuple(m.values()) for m in out]) if out else None,
    )


def show_bundle(s: Session, bundle: dict[str, Any], output: Path | None) -> None:
    """The Bundle on stdout, or written to ``output`` (then JSON says where, with --json)."""
    if output is None:
        sys.stdout.write(json.dumps(bundle, indent=2) + "\n")
        return
    output.write_text(json.dumps(bundle, indent=2) + "\n")
    written = {"written": str(output), "entries": len(bundle.get("entry", []))}
    emit(written, as_json=s.as_json, lines=[f"wrote {output}"])


async def read_record(
    s: Session,
    patient_id: str,
    record_id: str,
    segments: list[str] | None,
    reason: str | None,
    on_download: Callable[[int], Callable[[int], None]] | None = None,
) -> dict[str, Any]:
    """The Bundle of what the caller may read of a record; ``on_download`` as the SDK's
    (told the ciphertext size, it returns the per-chunk advance of a progress bar)."""
    material = s.keys()
    if patient_id == material.user_id and material.master is not None:
        async with RecordsClient(await s.service_url("owner-api"), s.tokens) as own:
            return await own.fetch_own_record(
                patient_id, record_id, material.master, segments=segments, on_download=on_download
            )
    async with access_client(s) as client:
        try:
            return await client.fetch_record(
                patient_id,
                record_id,
                segments,
                breakglass_reason=reason,
                allow_partial=True,
                on_download=on_download,
            )
        except AccessDenied as exc:
            raise CliError(str(exc)) from None


def fetch(
    ctx: typer.Context,
    record_id: Annotated[str, typer.Argument(help="The record")],
    patient: Annotated[
        str | None, typer.Option(help="Whose record (default: found from the record id)")
    ] = None,
    segments: Annotated[str | None, typer.Option(help="Only these, e.g. labs,conditions")] = None,
    output: Annotated[Path | None, typer.Option("-o", help="Write the Bundle here")] = None,
) -> None:
    """Write the FHIR Bundle of what you may see of a record (decrypted on this machine).

    Example: phr fetch r_0123 -o labs.json
    """
    s = session_from(ctx)
    names = parse_segments(segments) if segments else None

    async def work() -> dict[str, Any]:
        pid = patient or await record_patient(s, record_id)
        async with progress(s, f"fetching and decrypting {record_id}") as shown:
            return await read_record(s, pid, record_id, names, None, shown.bytes)

    show_bundle(s, run(s, work), output)


def breakglass(
    ctx: typer.Context,
    patient: Annotated[str, typer.Option(help="The patient in need")],
    reason: Annotated[str, typer.Option(help="Why (mandatory; reviewed later)")],
    record: Annotated[str | None, typer.Option(help="One record (default: the latest)")] = None,
    output: Annotated[Path | None, typer.Option("-o", help="Write the Bundle here")] = None,
) -> None:
    """Emergency access to the segments the patient marked for it; always recorded.

    Example: phr breakglass --patient u_1234 --reason "unconscious in ER" -o er.json
    """
    s = session_from(ctx)
    if not reason.strip():
        raise typer.BadParameter("break-glass needs a reason", param_hint="--reason")

    async def work() -> dict[str, Any]:
        record_id = record or await _latest_record(s, patient)
        async with progress(s, f"break-glass on {patient}") as shown:
            return await read_record(s, patient, record_id, None, reason, shown.bytes)

    show_bundle(s, run(s, work), output)


async def record_patient(s: Session, record_id: str) -> str:
    """Whose record ``record_id`` is (record ids are unique): a patient's own, or the one
    of the patients who shared it with the caller (user-api's listing of what was shared)."""
    material = s.keys()
    if material.master is not None:
        return s.profile().user_id
    async with access_client(s) as client:
        for patient in await client.shared():
            if any(r.get("record_id") == record_id for r in patient.get("records", [])):
                return str(patient["patient_id"])
    raise CliError(f"no patient shares a record {record_id} with you (give --patient?)")


async def _latest_record(s: Session, patient_id: str) -> str:
    """The newest record holding a segment break-glass may open."""
    async with access_client(s) as client:
        listing = await client.shared(patient_id, emergency=True)
    records = [r for p in listing for r in p.get("records", [])]
    if not records:
        raise CliError(f"patient {patient_id} has no record break-glass may open")
    newest = max(records, key=lambda r: str(r.get("uploaded_at") or ""))
    return str(newest["record_id"])


def audit(
    ctx: typer.Context,
    patient: Annotated[str | None, typer.Option(help="Patient id (default: yourself)")] = None,
) -> None:
    """The patient's audit trail, each entry verified against the ledger's signed checkpoint.

    Example: phr audit
    """
    s = session_from(ctx)

    async def work() -> dict[str, Any]:
        return await audit_trail(s, patient or s.profile().user_id)

    out = run(s, work)
    rows = [
        (
            str(e["time"])[:19],
            e["type"],
            e["source"],
            e["summary"],
            ("verified" if e["verified"] else "NOT VERIFIED")
            + (" · REVIEW" if e["review"] else ""),
        )
        for e in out["entries"]
    ]
    emit(
        out,
        as_json=s.as_json,
        lines=[f"{len(rows)} events about {out['patient_id']}; ledger size {out['tree_size']}"],
        table=(["time", "event", "by", "what", "ledger"], rows),
    )
    if not out["all_verified"]:
        raise typer.Exit(1)


async def audit_trail(
    s: Session, pid: str, *, wait_for: tuple[str, ...] = (), timeout_s: float = 30
) -> dict[str, Any]:
    """The trail of ``pid``, every entry checked against the ledger's signed checkpoint.

    ``wait_for``: event types to wait for (the ledger seals events within a moment).
    """
    params = await s.params()
    if params.ledger is None:
        raise CliError("the system parameters name no ledger")
    key = VerifyKey.from_b64(params.ledger.ed25519_public)
    ledger_url = await s.service_url("ledger")
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with new_client(timeout_s=60.0) as http:
        info = raise_for_problem(await http.get(f"{ledger_url}/v1/key")).json()
        while True:
            resp = await http.get(
                f"{ledger_url}/v1/audit/{pid}",
                headers={"Authorization": f"Bearer {await s.token('ledger')}"},
            )
            trail = AuditTrailOut.model_validate(raise_for_problem(resp).json())
            seen = {p.event.get("type") for p in trail.entries}
            if set(wait_for) <= seen or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
    try:
        checkpoint = verify_checkpoint(trail.checkpoint, info["origin"], key)
    except LedgerVerificationError as exc:
        raise CliError(f"the ledger's checkpoint does not verify: {exc}") from None
    entries = []
    for proof in trail.entries:
        try:
            verify_inclusion(proof, checkpoint)
            verified = True
        except LedgerVerificationError:
            verified = False
        event = proof.event
        entries.append(
            {
                "time": event.get("time"),
                "type": event.get("type"),
                "source": event.get("source"),
                "event_id": proof.event_id,
                "summary": _summary(event),
                "verified": verified,
                "review": event.get("type") == "access.breakglass",
            }
        )
    return {
        "patient_id": pid,
        "tree_size": checkpoint.size,
        "all_verified": all(e["verified"] for e in entries),
        "entries": entries,
    }


def _summary(event: dict[str, Any]) -> str:
    data: dict[str, Any] = event.get("data") or {}
    kind = event.get("type")
    if kind == "acl.granted":
        who = data.get("grantee_user_id") or data.get("grantee_group")
        return f"{who}: {','.join(data.get('segments', []))}"
    if kind == "access.decided":
        granted = [g.get("segment") for g in data.get("granted", [])]
        denied = [f"{d.get('segment')} ({d.get('reason')})" for d in data.get("denied", [])]
        parts = [f"granted {','.join(map(str, granted))}"] if granted else []
        parts += [f"denied {', '.join(denied)}"] if denied else []
        return f"{data.get('requester_id')} via {data.get('node_id')}: {'; '.join(parts)}"
    if kind in ("access.granted", "access.denied"):
        extra = f" ({data.get('reason')})" if kind == "access.denied" else ""
        return f"{data.get('requester_id')} {data.get('segment')}{extra}"
    if kind == "access.breakglass":
        return f"{data.get('requester_id')}: {data.get('reason')}"
    if kind == "record.uploaded":
        return f"{data.get('record_id')} by {data.get('uploaded_by')}"
    if kind == "acl.revoked":
        return str(data.get("grant_id"))
    if kind == "access.requested":
        return f"{data.get('requester_id')} asked for {','.join(data.get('segments') or ['all'])}"
    if kind == "key.rotated":
        return f"{data.get('segment')} → v{data.get('new_version')}"
    return ""
