"""`phr demo`: the whole story on a running system, each person with his own PHR_HOME."""

from __future__ import annotations

import gzip
import json
import secrets
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from phr.cli.access import access_client, audit_trail, read_record
from phr.cli.home import CliError, Home
from phr.cli.identity import create_identity
from phr.cli.output import Mode, console, emit, err_console
from phr.cli.session import Session, run, session_from
from phr.cli.sharing import sharing_client
from phr.scenario import Endpoints, Person, Scenario
from phr.sdk.access import AccessDenied


def register(app: typer.Typer) -> None:
    app.command()(demo)


def sample_bundle() -> dict[str, Any]:
    """A realistic synthetic FHIR R4 Bundle shipped with phr (Synthea, 1,184 resources)."""
    raw = files("phr.fhir").joinpath("data/sample_bundle.json.gz").read_bytes()
    bundle: dict[str, Any] = json.loads(gzip.decompress(raw))
    return bundle


async def operator_scenario(operator: Session) -> Scenario:
    """phr.scenario as the operator of ``operator``'s home, at the URLs the KGC's
    parameters list (verified against his pinned KGC key; his home is left as it is)."""
    profile = operator.profile()
    async with operator.kgc() as kgc:
        params, pin = await kgc.params(profile.pin)

    def url(name: str) -> str:
        entry = params.services.get(name)
        if entry is None or not entry.url:
            raise CliError(f"the system parameters name no {name} service")
        return entry.url

    urls = Endpoints(kgc=operator.kgc_url, owner_api=url("owner-api"), user_api=url("user-api"))
    return Scenario(urls, profile.user_id, operator.keys().user.signing, pin=pin)


def _out() -> Console:
    """The story goes to stdout, or to stderr under --json (stdout holds the JSON)."""
    return err_console if Mode.as_json else console


def _step(text: str) -> None:
    _out().print(f"\n[bold cyan]▶ {text}[/]", highlight=False)


def _say(text: str) -> None:
    _out().print(f"  {text}", highlight=False)


def demo(
    ctx: typer.Context,
    operator_home: Annotated[
        Path, typer.Option(help="The operator's PHR_HOME (the KGC writes it at first start)")
    ] = Path(".local/operator"),
    keep: Annotated[bool, typer.Option(help="Keep the demo's homes (printed at the end)")] = False,
) -> None:
    """Enrol a hospital, doctor, nurse, insurer and patient; upload, grant, fetch, deny,
    revoke, and show the patient's audit trail verified against the ledger.

    Example: make run && uv run phr demo
    """
    s = session_from(ctx)
    base = Path(tempfile.mkdtemp(prefix="phr-demo-"))
    phrase = base / "passphrase"
    phrase.write_text(secrets.token_urlsafe(16))
    phrase.chmod(0o600)

    def person(name: str) -> Session:
        return Session(home=Home(base / name), passphrase_file=phrase, kgc_url_option=s.kgc_url)

    operator = Session(home=Home(operator_home), kgc_url_option=s.kgc_url)

    async def story() -> dict[str, Any]:
        if not operator.home.exists():
            raise CliError(f"no operator identity in {operator_home} (run `make run` first)")
        async with await operator_scenario(operator) as sc:
            return await told(sc)

    async def told(sc: Scenario) -> dict[str, Any]:
        _step("The operator creates a hospital and an insurer")
        run_tag = secrets.token_hex(2)  # organisation names are unique
        hospital = await sc.create_org(f"St Mary's Hospital {run_tag}", "hospital")
        insurer_org = await sc.create_org(f"Acme Insurance {run_tag}", "insurer")
        _say(f"hospital {hospital}, insurer {insurer_org}")

        _step("A doctor, a nurse and an insurer enrol; the operator approves them")
        people: dict[str, Session] = {}
        ids: dict[str, str] = {}
        for name, role, org, shown in (
            ("doctor", "doctor", hospital, "Ada Lovelace"),
            ("nurse", "nurse", hospital, "Florence Nightingale"),
            ("insurer", "insurer", insurer_org, "Claims desk"),
        ):
            people[name] = person(name)
            out = await create_identity(
                people[name],
                name=name.title(),
                role=role,
                org=org,
                department=None,
                display_name=shown,
            )
            ids[name] = out["user_id"]
            await sc.approve(out["user_id"])
            _say(f"{name}: {out['user_id']} (keys made on this machine, in {base / name})")

        _step("The patient enrols and uploads a FHIR record, encrypted on his machine")
        patient = person("patient")
        out = await create_identity(patient, name="Pat", role="patient", org=None, department=None)
        pid = out["user_id"]
        material = patient.keys()
        assert material.master is not None
        owner = Person(pid, "patient", material.user, master=material.master)
        info = await sc.upload(owner, sample_bundle(), token=patient.tokens, validate=True)
        rid = info.record_id
        sizes = ", ".join(f"{g.name} {g.size // 1024} KiB" for g in info.segments)
        _say(f"patient {pid}, record {rid}: {sizes}")

        _step(
            "The patient grants: doctor labs+conditions, the hospital's nurses conditions, "
            "the insurer insurance"
        )
        mine = patient.tokens  # the patient's own CLI login
        g_doctor = await sc.grant_user(
            owner, ids["doctor"], ["labs", "conditions"], purpose="treatment", token=mine
        )
        await sc.grant_group(
            owner, {"role": "nurse", "org": hospital}, ["conditions"], purpose="care", token=mine
        )
        await sc.grant_user(owner, ids["insurer"], ["insurance"], purpose="billing", token=mine)
        _say(f"doctor's grant {g_doctor.grant_id}; kfrags split 2-of-3 across the SRS nodes")

        for name, wanted in (("doctor", None), ("nurse", None), ("insurer", None)):
            _step(f"The {name} fetches the record")
            bundle = await read_record(people[name], pid, rid, wanted, None)
            kinds = sorted({e["resource"]["resourceType"] for e in bundle.get("entry", [])})
            _say(
                f"{len(bundle.get('entry', []))} resources: {', '.join(kinds[:8])}"
                + (" …" if len(kinds) > 8 else "")
            )

        _step("The doctor asks for insurance, which he was not granted")
        try:
            async with access_client(people["doctor"]) as client:
                await client.fetch_record(pid, rid, ["insurance"])
            raise CliError("the doctor read insurance: the demo found a bug")
        except AccessDenied as exc:
            _say(f"denied by every SRS node: {exc.denied.get('insurance')}")

        _step("The patient revokes the doctor (and rotates the keys of labs and conditions)")
        async with sharing_client(patient) as sharing:
            await sharing.revoke(pid, g_doctor.grant_id)
        try:
            await read_record(people["doctor"], pid, rid, ["labs"], None)
            raise CliError("the revoked doctor still reads labs: the demo found a bug")
        except CliError as exc:
            if "bug" in str(exc):
                raise
            _say(f"doctor now: {exc}")

        _step("The patient's audit trail, each entry verified against the ledger")
        trail = await audit_trail(patient, pid, wait_for=("acl.revoked",))
        for entry in trail["entries"][-12:]:
            mark = "✓" if entry["verified"] else "✗"
            _say(f"{mark} {str(entry['time'])[11:19]} {entry['type']:<16} {entry['summary']}")
        _say(
            f"{len(trail['entries'])} events, all verified: {trail['all_verified']} "
            f"(ledger size {trail['tree_size']})"
        )
        return {
            "patient_id": pid,
            "record_id": rid,
            "audit_events": len(trail["entries"]),
            "all_verified": trail["all_verified"],
            "tree_size": trail["tree_size"],
        }

    try:
        summary = run(s, story)
        if s.as_json:
            emit(summary | {"homes": str(base) if keep else None}, as_json=True)
    finally:
        if keep:
            _out().print(f"\nhomes kept in {base}")
        else:
            import shutil

            shutil.rmtree(base, ignore_errors=True)
