"""`phr ledger`: verify a ledger offline (with only its public key)."""

from __future__ import annotations

import json
from typing import Annotated

import httpx
import typer

from phr.cli.home import CliError
from phr.cli.output import emit
from phr.cli.session import Session, run
from phr.crypto.signing import VerifyKey
from phr.ledger.verify import (
    ChainState,
    LedgerVerificationError,
    verify_chain,
    verify_checkpoint,
)
from phr.ledger.wire import BlockOut

app = typer.Typer(help="Verify the ledger.", no_args_is_help=True)


def verify_ledger(url: str, key: VerifyKey | None, origin: str | None) -> dict[str, object]:
    """Fetch every block and the latest checkpoint; verify them; return a summary."""
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
    return {
        "ok": True,
        "origin": origin,
        "blocks": state.height + 1,
        "log_size": state.log_size,
        "log_root": state.log_root().hex(),
        "key_pinned": key is not None,
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

    By default the ledger's URL and key come from the KGC's signed system parameters
    (pinned on first use); give --url and --key to check any ledger by hand.

    Example: uv run phr ledger verify
    """
    session = ctx.obj if isinstance(ctx.obj, Session) else None

    async def locate() -> tuple[str, str | None]:
        assert session is not None
        params = await session.params()
        if params.ledger is None:
            raise CliError("the system parameters name no ledger")
        return url or await session.service_url("ledger"), key or params.ledger.ed25519_public

    if url is None or key is None:
        if session is None:
            raise typer.BadParameter("give --url and --key")
        url, key = run(session, locate)
    try:
        pinned = VerifyKey.from_b64(key) if key else None
        summary = verify_ledger(url, pinned, origin)
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
        ],
    )
