"""`phr ledger`: verify a ledger offline (with only its public key)."""

from __future__ import annotations

import json
from typing import Annotated

import httpx
import typer

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
    url: Annotated[str, typer.Option("--url", help="ledger base URL")],
    key: Annotated[
        str | None, typer.Option("--key", help="ledger Ed25519 public key (base64url); pin it")
    ] = None,
    origin: Annotated[str | None, typer.Option("--origin", help="checkpoint origin")] = None,
) -> None:
    """Check the whole chain and the latest checkpoint offline.

    Without --key the key the ledger serves is trusted (on first use); pin it with --key.

    Example: uv run phr ledger verify --url http://127.0.0.1:8005
    """
    try:
        pinned = VerifyKey.from_b64(key) if key else None
        summary = verify_ledger(url, pinned, origin)
        summary["key_pinned"] = pinned is not None
    except (LedgerVerificationError, httpx.HTTPError, ValueError) as exc:
        typer.echo(json.dumps({"ok": False, "error": str(exc)}))
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(summary))
