"""`phr gateway`: serve the hospital gateway; register the client systems it admits."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from phr.cli.home import CliError
from phr.cli.output import emit, fail
from phr.cli.session import session_from

app = typer.Typer(
    help="The hospital gateway (FHIR R4 + SMART Backend Services).",
    invoke_without_command=True,
)


def _gateway_home(ctx: typer.Context) -> Path:
    """The gateway's home: the global ``--home`` (a `system` identity's PHR_HOME, with its
    clients and staff), which `phr` takes before or after the subcommand."""
    return session_from(ctx).home.path


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="gateway")


@app.callback()
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    url: Annotated[
        str | None, typer.Option(help="Public root URL (default: http://HOST:PORT)")
    ] = None,
) -> None:
    """Serve the gateway for the identity in --home (SMART clients from its clients.json).

    Example: phr gateway --home .local/gateway --port 8080
    """
    if ctx.invoked_subcommand is not None:
        return
    home = _gateway_home(ctx)
    import uvicorn

    from phr.gateway.app import GatewayConfig, create_app

    s = session_from(ctx)
    keystore = home / "keystore.json"
    try:
        passphrase = s.passphrase() if keystore.exists() else None
    except CliError as exc:
        fail(str(exc))
    config = GatewayConfig(
        home=home, base_url=url or f"http://{host}:{port}", passphrase=passphrase
    )
    try:
        gateway = create_app(config)
    except (OSError, ValueError) as exc:
        fail(f"cannot start the gateway: {exc}")
    uvicorn.run(gateway, host=host, port=port, log_level="warning", access_log=False)


@app.command("register-client")
def register_client(
    ctx: typer.Context,
    client_id: Annotated[str, typer.Option(help="The client system's id")],
    jwks: Annotated[Path, typer.Option(help="File with the client's PUBLIC JWK Set")],
    scope: Annotated[
        str, typer.Option(help="SMART v2 scopes it may hold, e.g. 'system/Patient.rs'")
    ],
    act_as: Annotated[
        str | None, typer.Option(help="A staff user id placed in DIR/staff (default: the system)")
    ] = None,
) -> None:
    """Register (or replace) a client system: its id, public keys and allowed scopes.

    Example: phr gateway register-client --home .local/gateway --client-id lis
    --jwks lis.jwks.json --scope 'system/Observation.rs system/Bundle.c'
    """
    from phr.gateway.smart import ClientRegistration, ClientRegistry

    s = session_from(ctx)
    home = _gateway_home(ctx)
    try:
        keys = json.loads(jwks.read_text())
        registration = ClientRegistration(
            client_id=client_id, jwks=keys, scopes=scope.split(), act_as=act_as
        )
        ClientRegistry(home / "clients.json").register(registration)
    except OSError as exc:
        fail(f"{jwks}: {exc.strerror}")
    except ValueError as exc:  # pydantic's ValidationError too
        fail(f"cannot register {client_id}: {exc}")
    emit(
        registration.model_dump(mode="json", exclude={"jwks"}),
        as_json=s.as_json,
        lines=[
            f"client {client_id} registered ({' '.join(registration.scopes)}); restart the gateway"
        ],
    )


@app.command("client-key")
def client_key(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("-o", help="Write the PRIVATE JWK here (0600)")],
    jwks: Annotated[Path, typer.Option(help="Write the public JWK Set here (to register)")],
    alg: Annotated[str, typer.Option(help="ES384 or RS384")] = "ES384",
) -> None:
    """Make a client system's key pair (for trying the gateway from a shell).

    Example: phr gateway client-key -o lis.jwk --jwks lis.jwks.json
    """
    from phr.gateway.assertion import new_client_key, public_jwks

    s = session_from(ctx)
    if alg not in ("ES384", "RS384"):
        raise typer.BadParameter("ES384 or RS384", param_hint="--alg")
    key = new_client_key("ES384" if alg == "ES384" else "RS384")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(key, fh)
    jwks.write_text(json.dumps(public_jwks(key), indent=2) + "\n")
    emit(
        {"private": str(out), "jwks": str(jwks), "kid": key["kid"]},
        as_json=s.as_json,
        lines=[f"private key {out} (keep it), public JWK Set {jwks} (register it)"],
    )


@app.command("assertion")
def assertion(
    key: Annotated[Path, typer.Option(help="The client's private JWK")],
    client_id: Annotated[str, typer.Option(help="The registered client id")],
    token_url: Annotated[str, typer.Option(help="The gateway's token endpoint")],
) -> None:
    """Print a signed client assertion (valid four minutes, usable once) for curl.

    Example: phr gateway assertion --key lis.jwk --client-id lis
    --token-url http://127.0.0.1:8080/auth/token
    """
    from phr.gateway.assertion import sign_assertion

    try:
        jwk = json.loads(key.read_text())
    except (OSError, ValueError) as exc:
        fail(f"{key}: {exc}")
    typer.echo(sign_assertion(jwk, client_id, token_url))
