"""Identity commands: enrol, whoami, keys, organisations, approval, revocation, tracing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from phr.cli.home import CliError, Profile
from phr.cli.output import emit, err_console
from phr.cli.session import Session, run, session_from
from phr.crypto.export import KeyMaterial, export_secret_keys
from phr.crypto.keys import PatientMasterKey, UserKeys

ROLES = (
    "patient",
    "caregiver",
    "doctor",
    "nurse",
    "pharmacist",
    "lab",
    "insurer",
    "admin",
    "system",
)
ORG_KINDS = ("hospital", "lab", "pharmacy", "insurer")

keys_app = typer.Typer(help="Export your keys.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations (operator).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(enrol)
    app.command()(whoami)
    app.command()(approve)
    app.command(name="revoke-user")(revoke_user)
    app.command()(trace)
    app.add_typer(keys_app, name="keys")
    app.add_typer(org_app, name="org")


def enrol(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Your name, kept in PHR_HOME only")],
    role: Annotated[str, typer.Option(help="|".join(ROLES))],
    org: Annotated[str | None, typer.Option(help="Organisation id (staff)")] = None,
    department: Annotated[str | None, typer.Option(help="Department (staff)")] = None,
    display_name: Annotated[
        str | None,
        typer.Option(
            help="The name the directory shows others (e.g. 'Ada Lovelace' to a patient"
            " reading who may see his records); nothing is sent unless given"
        ),
    ] = None,
) -> None:
    """Make your keys in PHR_HOME, pin and verify the system parameters, enrol.

    Example: PHR_HOME=~/.phr-alice phr enrol --name Alice --role patient
    Staff:   phr enrol --name Ada --role doctor --org o_… --display-name "Ada Lovelace"
    """
    s = session_from(ctx)
    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")

    async def work() -> dict[str, Any]:
        return await create_identity(
            s, name=name, role=role, org=org, department=department, display_name=display_name
        )

    out = run(s, work)
    lines = [f"enrolled [bold]{out['user_id']}[/] as {role} ({out['status']})"]
    if out["status"] == "pending":
        lines.append(
            "an admin of your organisation must approve you: phr approve " + out["user_id"]
        )
    emit(out, as_json=s.as_json, lines=lines)


async def create_identity(
    s: Session,
    *,
    name: str,
    role: str,
    org: str | None,
    department: str | None,
    display_name: str | None = None,
) -> dict[str, Any]:
    """Make keys, pin the KGC, enrol, and keep keystore and profile in ``s.home``."""
    if s.home.exists():
        raise CliError(f"{s.home.path} already holds an identity; use another PHR_HOME")
    passphrase = s.passphrase(confirm=True)  # before enrolling: nothing half-made
    user = UserKeys.generate()
    master = PatientMasterKey.generate() if role == "patient" else None
    async with s.kgc() as kgc:
        params, pin = await kgc.params(None)  # first use: pin the KGC key
        answer = await kgc.enrol(user, role, org, department, display_name=display_name)
    material = KeyMaterial(user=user, master=master, user_id=answer["user_id"])
    s.home.save_keys(material, passphrase)
    s.home.save_profile(
        Profile(
            user_id=answer["user_id"],
            role=role,
            name=name,
            organisation_id=org,
            department=department,
            status=answer["status"],
            kgc_url=s.kgc_url,
            pin=pin,
        )
    )
    if master is not None:
        # Publish the segment public keys, so contributors can write to this patient.
        from phr.cli.sharing import sharing_client

        async with sharing_client(s) as sharing:
            await sharing.publish_keys(answer["user_id"])
    return {
        "user_id": answer["user_id"],
        "status": answer["status"],
        "role": role,
        "home": str(s.home.path),
        "kgc_fingerprint": params.kgc.fingerprint,
    }


def whoami(ctx: typer.Context) -> None:
    """Show the identity in PHR_HOME (and whether the KGC still knows it).

    Example: PHR_HOME=.local/operator phr whoami
    """
    s = session_from(ctx)

    async def work() -> dict[str, Any]:
        profile = s.profile()
        token = await s.token("kgc")
        async with s.kgc() as kgc:
            me = await kgc.user(token, profile.user_id)
        return {
            "user_id": profile.user_id,
            "name": profile.name,
            "role": me.get("role", profile.role),
            "organisation_id": me.get("organisation_id"),
            "department": me.get("department"),
            "status": me.get("status"),
            "home": str(s.home.path),
        }

    out = run(s, work)
    org = f" of {out['organisation_id']}" if out["organisation_id"] else ""
    emit(
        out,
        as_json=s.as_json,
        lines=[f"{out['user_id']} ({out['name'] or '-'}): {out['role']}{org}, {out['status']}"],
    )


@keys_app.command("export")
def keys_export(
    ctx: typer.Context,
    public: Annotated[bool, typer.Option("--public", help="Your public keys")] = False,
    secret: Annotated[bool, typer.Option("--secret", help="Your SECRET keys, unencrypted")] = False,
    output: Annotated[Path | None, typer.Option("-o", help="File for --secret (0600)")] = None,
) -> None:
    """Export your public keys, or your secret keys unencrypted (what a traitor would sell).

    Example: phr keys export --public
    """
    s = session_from(ctx)
    if public == secret:
        raise typer.BadParameter("give exactly one of --public or --secret")
    if secret and output is None:
        raise typer.BadParameter("--secret writes to a file: give -o FILE", param_hint="-o")

    async def work() -> dict[str, Any]:
        material = s.keys()
        if public:
            pub = material.user.public()
            return {
                "user_id": material.user_id,
                "ed25519_public": pub.verify.b64(),
                "ed25519_fingerprint": pub.verify.fingerprint(),
                "umbral_public": pub.pre.b64(),
            }
        assert output is not None
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(export_secret_keys(material), fh)
        return {"written": str(output)}

    out = run(s, work)
    if secret:
        err_console.print(
            "WARNING: these are your secret keys, unencrypted. Anyone holding them can act "
            "as you and read what you may read; a leaked key is traced back to you.",
            markup=False,
        )
        emit(out, as_json=s.as_json, lines=[f"secret keys written to {out['written']} (0600)"])
    else:
        emit(out, as_json=s.as_json, lines=[f"{k}: {v}" for k, v in out.items()])


@org_app.command("create")
def org_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Organisation name")],
    kind: Annotated[str, typer.Option(help="|".join(ORG_KINDS))],
) -> None:
    """Create an organisation (operator only).

    Example: PHR_HOME=.local/operator phr org create "St Mary" --kind hospital
    """
    s = session_from(ctx)
    if kind not in ORG_KINDS:
        raise typer.BadParameter(f"kind must be one of {', '.join(ORG_KINDS)}", param_hint="--kind")

    async def work() -> dict[str, Any]:
        async with s.kgc() as kgc:
            return await kgc.create_org(await s.token("kgc"), name, kind)

    out = run(s, work)
    emit(out, as_json=s.as_json, lines=[f"organisation [bold]{out['organisation_id']}[/] ({kind})"])


def approve(
    ctx: typer.Context, user_id: Annotated[str, typer.Argument(help="The pending user")]
) -> None:
    """Approve a pending staff user (an admin of that organisation, or the operator).

    Example: PHR_HOME=.local/operator phr approve u_1234
    """
    s = session_from(ctx)

    async def work() -> dict[str, Any]:
        async with s.kgc() as kgc:
            return await kgc.approve(await s.token("kgc"), user_id)

    out = run(s, work)
    emit(out, as_json=s.as_json, lines=[f"{user_id} is now {out.get('status')}"])


def revoke_user(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="The user to revoke everywhere")],
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger)")],
) -> None:
    """Revoke a user at every service (admin).

    Example: PHR_HOME=.local/operator phr revoke-user u_1234 --reason "left the hospital"
    """
    s = session_from(ctx)

    async def work() -> dict[str, Any]:
        async with s.kgc() as kgc:
            return await kgc.revoke(await s.token("kgc"), user_id, reason)

    out = run(s, work)
    emit(out, as_json=s.as_json, lines=[f"{user_id} is now {out.get('status')}"])


def trace(
    ctx: typer.Context,
    keyfile: Annotated[Path, typer.Argument(help="A leaked key: export JSON or raw base64url")],
) -> None:
    """Name (and revoke) the user a leaked secret key belongs to (operator).

    Example: PHR_HOME=.local/operator phr trace leaked.json
    """
    s = session_from(ctx)

    async def work() -> dict[str, Any]:
        text = keyfile.read_text().strip()
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and doc.get("format") == "phr-secret-keys":
            body: dict[str, Any] = {"key_export": doc}
        elif isinstance(doc, dict):
            body = {"keystore": doc, "passphrase": os.environ.get("PHR_LEAKED_PASSPHRASE")}
        else:
            body = {"secret_key": text}
        async with s.kgc() as kgc:
            return await kgc.trace(await s.token("kgc"), body)

    out = run(s, work)
    emit(
        out,
        as_json=s.as_json,
        lines=[
            f"the key belongs to [bold]{out['user_id']}[/] ({out['role']}, "
            f"{out['key_kind']} key); revoked: {out['revoked']}"
        ],
    )
