"""`phr ledger`: verify a ledger offline (with only its public key).

The chain is checked from what the ledger serves to anyone: signed block headers, their
leaf hashes and the signed checkpoint. Event bodies are not public; a caller with a
profile also checks his own events (his audit trail): each is in the log the chain
built, by its inclusion proof and a consistency proof between the two checkpoints.
"""

from __future__ import annotations

import json
from typing import Annotated

import httpx
import typer

from phr.cli.home import CliError
from phr.cli.output import emit
from phr.cli.session import Session, run
from phr.crypto.signing import VerifyKey
from phr.ledger.checkpoint import Checkpoint
from phr.ledger.verify import (
    ChainState,
    LedgerVerificationError,
    verify_chain,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from phr.ledger.wire import AuditTrailOut, BlockOut, ConsistencyProofOut

app = typer.Typer(help="Verify the ledger.", no_args_is_help=True)


def verify_own_events(
    client: httpx.Client, cp: Checkpoint, key: VerifyKey, user_id: str, token: str
) -> int:
    """Verify the caller's own events against the checkpoint ``cp`` the chain matched;
    the number verified."""
    resp = client.get(f"/v1/audit/{user_id}", headers={"Authorization": f"Bearer {token}"})
    trail = AuditTrailOut.model_validate(resp.raise_for_status().json())
    latest = verify_checkpoint(trail.checkpoint, cp.origin, key)
    if latest.size < cp.size:
        raise LedgerVerificationError("the audit trail's checkpoint is older than the chain's")
    if latest.size > cp.size:
        proof = client.get(
            "/v1/proofs/consistency", params={"first": cp.size, "second": latest.size}
        )
        verify_consistency(
            ConsistencyProofOut.model_validate(proof.raise_for_status().json()), cp, latest
        )
    elif latest.root_hash != cp.root_hash:
        raise LedgerVerificationError("two checkpoints of one size with different roots")
    for entry in trail.entries:
        verify_inclusion(entry, latest)
    return len(trail.entries)


def verify_ledger(
    url: str,
    key: VerifyKey | None,
    origin: str | None,
    me: tuple[str, str] | None = None,
) -> dict[str, object]:
    """Fetch every block and the latest checkpoint; verify them, and the events of ``me``
    (user id, token) if given; return a summary."""
    with httpx.Client(base_url=url.rstrip("/"), timeout=30) as client:
        info = client.get("/v1/key").raise_for_status().json()
        served = VerifyKey.from_b64(info["ed25519_public"])
        if key is not None and served != key:
            raise LedgerVerificationError("the ledger serves another key than the one given")
        key = key or served
        origin = origin or info["origin"]
        note = client.get("/v1/checkpoint").raise_for_status().text
        cp = verify_checkpoint(note, origin, key)
        state = ChainState()
        start = 0
        while state.log_size < cp.size:
            page = client.get("/v1/blocks", params={"start": start, "limit": 100})
            blocks = [BlockOut.model_validate(b) for b in page.raise_for_status().json()]
            if not blocks:
                raise LedgerVerificationError("the chain ends before the checkpoint")
            verify_chain(blocks, key, state)
            start += len(blocks)
        if (state.log_size, state.log_root()) != (cp.size, cp.root_hash):
            raise LedgerVerificationError("the checkpoint does not match the chain")
        own = verify_own_events(client, cp, key, *me) if me is not None else None
    return {
        "ok": True,
        "origin": origin,
        "blocks": state.height + 1,
        "log_size": state.log_size,
        "log_root": state.log_root().hex(),
        "key_pinned": key is not None,
        "own_events_verified": own,
    }


@app.command("verify")
def verify(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", help="ledger base URL (default: from the KGC)")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="ledger Ed25519 public key (base64url; default: the KGC's)"),
    ] = None,
    origin: Annotated[str | None, typer.Option("--origin", help="checkpoint origin")] = None,
) -> None:
    """Check the whole chain and the latest checkpoint offline, with only the ledger's key.

    The chain is checked from the public leaf hashes; with a profile (PHR_HOME), your own
    events are checked too, each proven to be in that chain. By default the ledger's URL
    and key come from the KGC's signed system parameters (pinned on first use); give
    --url and --key to check any ledger by hand.

    Example: uv run phr ledger verify
    """
    session = ctx.obj if isinstance(ctx.obj, Session) else None

    async def locate() -> tuple[str, str | None]:
        assert session is not None
        params = await session.params()
        if params.ledger is None:
            raise CliError("the system parameters name no ledger")
        return url or await session.service_url("ledger"), key or params.ledger.ed25519_public

    async def whoami() -> tuple[str, str]:
        assert session is not None
        return session.profile().user_id, await session.token("ledger")

    if url is None or key is None:
        if session is None:
            raise typer.BadParameter("give --url and --key")
        url, key = run(session, locate)
    me = run(session, whoami) if session is not None and session.home.exists() else None
    try:
        pinned = VerifyKey.from_b64(key) if key else None
        summary = verify_ledger(url, pinned, origin, me)
        summary["key_pinned"] = pinned is not None
    except (LedgerVerificationError, httpx.HTTPError, ValueError) as exc:
        typer.echo(json.dumps({"ok": False, "error": str(exc)}))
        raise typer.Exit(1) from exc
    as_json = session.as_json if session is not None else True
    emit(
        summary,
        as_json=as_json,
        lines=[
            f"ledger verified: {summary['blocks']} blocks, {summary['log_size']} events, "
            f"root {str(summary['log_root'])[:16]}…, checkpoint signed by the pinned key"
            + (
                f"; {summary['own_events_verified']} of your own events in it"
                if summary["own_events_verified"] is not None
                else ""
            )
        ],
    )
