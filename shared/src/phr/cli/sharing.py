"""Sharing commands: grant, grants, revoke, rotate, delegate, emergency-segments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from phr.api.owner import GrantOut
from phr.cli.home import CliError
from phr.cli.output import emit
from phr.cli.session import Session, run, session_from
from phr.fhir.segments import SEGMENTS
from phr.sdk.sharing import SharingClient


def register(app: typer.Typer) -> None:
    app.command()(grant)
    app.command()(grants)
    app.command()(revoke)
    app.command()(rotate)
    app.command()(delegate)
    app.command(name="emergency-segments")(emergency_segments)


@asynccontextmanager
async def sharing_client(s: Session) -> AsyncIterator[SharingClient]:
    material = s.keys()
    profile = s.profile()
    owner_url = await s.service_url("owner-api")
    async with SharingClient(
        owner_url,
        s.kgc_url,
        s.tokens,
        material.user,
        user_id=profile.user_id,
        master=material.master,
        pin=profile.pin,
    ) as client:
        yield client


def parse_segments(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SEGMENTS]
    if not names or unknown:
        raise typer.BadParameter(
            f"unknown segment(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(SEGMENTS)}",
            param_hint="--segments",
        )
    return names


def parse_selector(text: str) -> dict[str, str]:
    selector: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(
                "write a group as 'role=doctor,org=ORG_ID'", param_hint="--group"
            )
        selector[key.strip()] = value.strip()
    if not set(selector) <= {"role", "org", "dept"}:
        raise typer.BadParameter("a group selects by role, org and dept", param_hint="--group")
    return selector


def parse_date(text: str | None, hint: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("give an ISO date, e.g. 2027-01-31", param_hint=hint) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _grant_row(g: GrantOut) -> tuple[Any, ...]:
    who = g.grantee_user_id or ",".join(f"{k}={v}" for k, v in (g.grantee_group or {}).items())
    by = g.granted_by + (f" for {g.on_behalf_of}" if g.on_behalf_of else "")
    until = g.expires_at.isoformat()[:19] if g.expires_at else "-"
    return (
        g.grant_id,
        who,
        ",".join(g.segments),
        g.status,
        until,
        by,
        "yes" if g.emergency else "",
    )


GRANT_COLUMNS = ["grant", "grantee", "segments", "status", "until", "granted by", "emergency"]


def _patient(s: Session, patient: str | None) -> str:
    return patient or s.profile().user_id


def grant(
    ctx: typer.Context,
    segments: Annotated[str, typer.Option(help="Comma-separated, e.g. labs,conditions")],
    user: Annotated[str | None, typer.Option(help="Grantee user id")] = None,
    group: Annotated[str | None, typer.Option(help="Group, e.g. 'role=doctor,org=ORG'")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Only records from this date")] = None,
    until: Annotated[str | None, typer.Option(help="Expiry date")] = None,
    start: Annotated[str | None, typer.Option(help="Not valid before this date")] = None,
    purpose: Annotated[str | None, typer.Option(help="Why (kept with the grant)")] = None,
    patient: Annotated[str | None, typer.Option(help="For a patient you act for")] = None,
) -> None:
    """Grant read access to segments to a user or a group; prints the grant id.

    Example: phr grant --user u_1234 --segments labs,conditions --until 2027-06-30
    """
    s = session_from(ctx)
    if (user is None) == (group is None):
        raise typer.BadParameter("give exactly one of --user or --group")
    names = parse_segments(segments)
    selector = parse_selector(group) if group else None
    window: dict[str, Any] = {
        "data_from": parse_date(from_, "--from"),
        "expires_at": parse_date(until, "--until"),
        "not_before": parse_date(start, "--start"),
        "purpose": purpose,
    }

    async def work() -> dict[str, Any]:
        async with sharing_client(s) as client:
            pid = _patient(s, patient)
            if user is not None:
                info = await client.grant_user(pid, user, names, **window)
            else:
                assert selector is not None
                info = await client.grant_group(pid, selector, names, **window)
        return info.model_dump(mode="json")

    out = run(s, work)
    emit(out, as_json=s.as_json, lines=[f"grant [bold]{out['grant_id']}[/] ({', '.join(names)})"])


def grants(
    ctx: typer.Context,
    patient: Annotated[str | None, typer.Option(help="Patient id (default: yourself)")] = None,
) -> None:
    """List a patient's grants: who may read which segments, until when, granted by whom.

    Example: phr grants
    """
    s = session_from(ctx)

    async def work() -> list[GrantOut]:
        async with sharing_client(s) as client:
            return await client.list_grants(_patient(s, patient))

    found = run(s, work)
    emit(
        [g.model_dump(mode="json") for g in found],
        as_json=s.as_json,
        table=(GRANT_COLUMNS, [_grant_row(g) for g in found]),
    )


def revoke(
    ctx: typer.Context,
    grant_id: Annotated[str, typer.Argument(help="The grant to revoke")],
    rewrap: Annotated[bool, typer.Option(help="Also re-wrap older records' keys")] = False,
    patient: Annotated[str | None, typer.Option(help="For a patient you act for")] = None,
) -> None:
    """Revoke a grant at every SRS node, then rotate its segments' keys.

    Example: phr revoke g_0123 --rewrap
    """
    s = session_from(ctx)

    async def work() -> dict[str, Any]:
        async with sharing_client(s) as client:
            pid = _patient(s, patient)
            info = await client.revoke(
                pid, grant_id, rotate=s.keys().master is not None, rewrap=rewrap
            )
        return info.model_dump(mode="json")

    out = run(s, work)
    emit(out, as_json=s.as_json, lines=[f"grant {grant_id} revoked"])


def rotate(
    ctx: typer.Context,
    segments: Annotated[str | None, typer.Option(help="Default: every segment")] = None,
    rewrap: Annotated[
        bool, typer.Option(help="Re-wrap older records' keys (capsules only)")
    ] = False,
) -> None:
    """Move segments to a new key version (data written later is out of old kfrags' reach).

    Example: phr rotate --segments labs --rewrap
    """
    s = session_from(ctx)
    names = parse_segments(segments) if segments else list(SEGMENTS)

    async def work() -> dict[str, int]:
        if s.keys().master is None:
            raise CliError("only a patient rotates his keys")
        async with sharing_client(s) as client:
            return await client.rotate(s.profile().user_id, names, rewrap=rewrap)

    out = run(s, work)
    emit(out, as_json=s.as_json, lines=[f"{seg}: version {v}" for seg, v in out.items()])


def delegate(
    ctx: typer.Context,
    to: Annotated[str, typer.Option(help="The caregiver's or guardian's user id")],
    segments: Annotated[str, typer.Option(help="The scope, e.g. labs,medications")],
    end: Annotated[bool, typer.Option("--end", help="End this delegation")] = False,
) -> None:
    """Let a caregiver or guardian grant and revoke for you within some segments.

    Example: phr delegate --to u_5678 --segments labs,medications
    """
    s = session_from(ctx)
    names = parse_segments(segments)

    async def work() -> dict[str, Any]:
        async with sharing_client(s) as client:
            pid = s.profile().user_id
            if end:
                await client.undelegate(pid, to)
                return {"delegate_user_id": to, "active": False}
            return await client.delegate(pid, to, names)

    out = run(s, work)
    state = "ended" if end else f"may act for you on {', '.join(names)}"
    emit(out, as_json=s.as_json, lines=[f"{to} {state}"])


def emergency_segments(
    ctx: typer.Context,
    segments: Annotated[
        str, typer.Argument(help="What break-glass may open, e.g. labs,medications")
    ],
) -> None:
    """Choose the segments a doctor or nurse may open in an emergency (with a reason).

    Example: phr emergency-segments labs,medications
    """
    s = session_from(ctx)
    names = parse_segments(segments)

    async def work() -> list[GrantOut]:
        async with sharing_client(s) as client:
            return await client.set_emergency_segments(s.profile().user_id, names)

    found = run(s, work)
    emit(
        [g.model_dump(mode="json") for g in found],
        as_json=s.as_json,
        lines=[f"break-glass may open: {', '.join(names)}"],
    )
