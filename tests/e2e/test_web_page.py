"""The patient's web page in a real browser (headless chromium, selenium) against the
running test stack: served under a strict CSP, keys from the CLI's keystore file or
made in the page, records, grants in plain words, revoke (the doctor then refused by
`phr fetch`), emergency segments and a break-glass highlighted in the access history.
A screenshot of each page lands in .local/test-output/web-page-*/ (PHR_TEST_OUTPUT).
"""

from __future__ import annotations

import gzip
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import Page, browser, output_dir, page_url
from tests.support.cli import PASSPHRASE, Phr
from tests.support.identity import operator_file, service_url

# many `phr` processes: each starts a Python (seconds on a loaded machine)
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

FIXTURE = Path(__file__).resolve().parents[2] / "shared/tests/data/synthea_r4_seed42.json.gz"


@pytest.fixture(scope="module")
def phr(stack: Any) -> Phr:
    return Phr(kgc_url=service_url(stack, "kgc"), kafka=stack.kafka_bootstrap)


@pytest.fixture(scope="module")
def people(phr: Phr, stack: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A patient (enrolled by `phr`, one record uploaded) and an approved doctor."""
    root = tmp_path_factory.mktemp("web")
    op = operator_file(stack).parent
    name = f"St Mary's {uuid.uuid4().hex[:6]}"
    org = phr.json("org", "create", name, "--kind", "hospital", home=op)
    doctor = phr.json(
        "enrol", "--name", "Ada", "--role", "doctor", "--org", org["organisation_id"],
        "--display-name", "Ada Lovelace", home=root / "doctor",
    )  # fmt: skip
    if doctor["status"] == "pending":
        phr.json("approve", doctor["user_id"], home=op)
    patient = phr.json("enrol", "--name", "Pat", "--role", "patient", home=root / "pat")
    bundle = root / "bundle.json"
    bundle.write_bytes(gzip.decompress(FIXTURE.read_bytes()))
    record = phr.json("upload", str(bundle), home=root / "pat")["record_id"]
    return {
        "root": root,
        "org": org,
        "doctor": doctor["user_id"],
        "patient": patient["user_id"],
        "record": record,
    }


def doctor_fetch(phr: Phr, people: dict[str, Any], out: Path) -> Any:
    return phr.run(
        "fetch", people["record"], "--patient", people["patient"], "-o", str(out),
        home=people["root"] / "doctor", check=False,
    )  # fmt: skip


def sign_in_with_file(page: Page, keystore: Path, passphrase: str) -> None:
    page.wait('[name="keystore-file"]').send_keys(str(keystore))
    page.fill("import-passphrase", passphrase)
    page.click("import-keys")


def test_page_is_served_under_a_strict_csp(stack: Any) -> None:
    url = page_url(stack)
    page = httpx.get(url, timeout=30)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "*" not in csp
    assert service_url(stack, "kgc") in directives["connect-src"]
    # no inline script: every <script> names a file of this origin, no CDN
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    assert "http" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', page.text))
    bundle = httpx.get(url + "static/app.js", timeout=30)
    assert bundle.status_code == 200 and "javascript" in bundle.headers["content-type"]
    assert bundle.headers["content-security-policy"] == csp
    # the services the page calls let it (CORS), and no other origin
    kgc = service_url(stack, "kgc") + "/v1/params"
    ours = httpx.get(kgc, headers={"Origin": url.rstrip("/")}, timeout=30)
    assert ours.headers["access-control-allow-origin"] == url.rstrip("/")
    other = httpx.get(kgc, headers={"Origin": "https://evil.example"}, timeout=30)
    assert "access-control-allow-origin" not in other.headers


def test_cli_keystore_records_revoke_emergency_audit(
    phr: Phr, people: dict[str, Any], stack: Any
) -> None:
    root, pid = people["root"], people["patient"]
    grant = phr.json(
        "grant", "--user", people["doctor"], "--segments", "labs,conditions",
        "--purpose", "follow-up of my diabetes", "--until", "2099-06-30", home=root / "pat",
    )  # fmt: skip
    assert doctor_fetch(phr, people, root / "before.json").returncode == 0
    reads_done = 1

    audit: list[str] = []  # axe-core's WCAG 2.1 AA findings on each page
    with browser(output_dir("web-page-cli-keystore")) as page:
        page.open(page_url(stack))
        page.wait('[name="keystore-file"]')
        audit += page.accessibility("sign-in")
        # the keystore file `phr enrol` wrote, first with a wrong passphrase
        sign_in_with_file(page, root / "pat" / "keystore.json", "not my passphrase")
        error = page.wait("#signin-errors [role=alert]")
        assert "passphrase does not open" in error.text
        page.shot("signin-wrong-passphrase")
        sign_in_with_file(page, root / "pat" / "keystore.json", PASSPHRASE)

        record = page.wait(f'[data-record="{people["record"]}"]')
        assert "Added by you" in record.text and "lab results" in record.text
        page.shot("records")
        audit += page.accessibility("records")

        page.go("sharing")
        card = page.wait(f'li[data-grant="{grant["grant_id"]}"]')
        sentence = card.find_element("css selector", ".sentence").text
        # her name as she gave it the directory, with the title and her hospital's name
        assert sentence.startswith(f"Dr. Ada Lovelace, {people['org']['name']} ")
        assert "can see your lab results and health problems until 30 June 2099" in sentence
        assert "for: follow-up of my diabetes" in sentence
        page.shot("sharing")
        audit += page.accessibility("sharing")
        page.click(f"revoke-{grant['grant_id']}")
        done = page.wait("#revoked-notice")
        assert "can no longer see" in done.text
        page.wait(f'li[data-grant="{grant["grant_id"]}"][data-status="revoked"]')
        page.shot("sharing-revoked")

        # the doctor is refused from the moment the revoke returned (poll: nodes apply it)
        deadline = time.monotonic() + 30
        refused = doctor_fetch(phr, people, root / "after.json")
        while refused.returncode == 0 and time.monotonic() < deadline:
            reads_done += 1
            time.sleep(1)
            refused = doctor_fetch(phr, people, root / "after.json")
        assert refused.returncode != 0, refused.stdout

        # emergency segments chosen with `phr`: the page shows them; a break-glass follows
        phr.json("emergency-segments", "medications,conditions", home=root / "pat")
        page.go("emergency")
        page.until(lambda: "medicines" in page.wait("#emergency-summary").text, "not shown")
        assert page.el("#em-conditions").is_selected() and not page.el("#em-labs").is_selected()
        page.shot("emergency")
        audit += page.accessibility("emergency")
        phr.run(
            "breakglass", "--patient", pid, "--reason", "unconscious in the ER",
            "-o", str(root / "er.json"), home=root / "doctor",
        )  # fmt: skip

        # the break-glass reaches the ledger through the event stream, a moment after the
        # command returns: the patient looks again (menu away and back) until it is there
        deadline = time.monotonic() + 120
        while True:
            page.go("audit")
            page.wait("#timeline li")
            if page.all("#timeline li.breakglass") or time.monotonic() > deadline:
                break
            time.sleep(2)
            page.go("records")
            page.until(lambda: page.wait("main h1").text == "My records", "records not shown")
        glass = page.wait("#timeline li.breakglass", timeout=1)
        assert "EMERGENCY" in glass.text and "unconscious in the ER" in glass.text
        lines = page.all('#timeline li[data-kind="access"]')
        reads = [li.text for li in lines if " read your " in li.text]
        # one line per read, though several SRS nodes decided each
        assert len(reads) == reads_done, reads
        page.shot("audit")
        audit += page.accessibility("audit")

        # the system down: the page says so instead of failing silently
        page.offline(True)
        page.go("records")
        down = page.wait("main [role=alert]")
        assert "not answering" in down.text
        page.shot("system-down")
        page.offline(False)
        assert not [e for e in page.console_errors() if "Content Security Policy" in e]
        # the audit sees what it should: a picture without words is a finding
        page.d.execute_script(
            "document.querySelector('main').append(Object.assign("
            "document.createElement('img'), {src: 'data:,'}))"
        )
        assert any(f.startswith("image-alt ") for f in page.accessibility("probe"))
    assert audit == [], "\n".join(audit)


def test_in_the_page_enrol_upload_read_share_revoke_audit(
    phr: Phr, people: dict[str, Any], stack: Any
) -> None:
    """Everything in the page, every key made and used there; the doctor reads by `phr`."""
    root, secret = people["root"], "a new patient's passphrase"
    bundle = root / "bundle.json"
    audit: list[str] = []  # axe-core's WCAG 2.1 AA findings on each page
    with browser(output_dir("web-page-in-page")) as page:
        page.open(page_url(stack))
        page.wait('[name="new-passphrase"]')
        page.fill("new-passphrase", secret)
        page.fill("new-passphrase-2", secret)
        page.fill("display-name", "Grace Hopper")
        page.shot("signin")
        audit += page.accessibility("signin")
        page.click("enrol")
        page.wait("#no-records")
        match = re.search(r"u_[0-9a-f]+", page.el("#welcome").text)
        assert match, page.text()
        pid = match.group(0)
        page.shot("records-empty")

        page.go("upload")
        page.wait('[name="bundle"]').send_keys(str(bundle))
        page.click("upload")
        done = page.wait("#upload-done")
        assert "lab results" in done.text
        page.shot("upload")
        audit += page.accessibility("upload")
        done.find_element("css selector", "a").click()
        page.wait("#lab-table tbody tr")
        assert page.all("#problem-list li") and page.all("#medication-list li")
        assert page.wait("#lab-chart").get_attribute("aria-label")
        page.shot("record")
        audit += page.accessibility("record")
        page.el("#raw summary").click()
        assert '"resourceType": "Bundle"' in page.wait("#raw-json").text
        page.el("#raw summary").click()
        page.go("records")
        record = page.wait("li.record").get_attribute("data-record")

        page.go("grant")
        page.wait('[name="grantee"]').send_keys(people["doctor"])
        page.el("#seg-labs").click()
        page.el("#seg-conditions").click()
        page.set_value("end", "2099-06-30")
        page.fill("purpose", "second opinion")
        page.click("grant")
        granted = page.wait("#grant-done")
        assert "can see your health problems and lab results until 30 June 2099" in granted.text
        page.shot("grant")
        audit += page.accessibility("grant")
        grant_id = granted.get_attribute("data-grant")

        mine = {**people, "patient": pid, "record": record}
        read = doctor_fetch(phr, mine, root / "page-before.json")
        assert read.returncode == 0, read.stderr
        assert "Observation" in (root / "page-before.json").read_text()

        page.go("sharing")
        page.wait(f"#rewrap-{grant_id}").click()
        page.click(f"revoke-{grant_id}")
        stopped = page.wait("#revoked-notice")
        assert "keys renewed" in stopped.text and "1 older record re-locked" in stopped.text
        page.shot("revoked")
        # owner-api answered the page's revoke once the SRS nodes enforce it
        refused = doctor_fetch(phr, mine, root / "page-after.json")
        assert refused.returncode != 0, refused.stdout

        page.go("emergency")
        page.wait("#em-medications").click()
        page.click("save-emergency")
        page.until(lambda: "medicines" in page.el("#emergency-summary").text, "not saved")
        page.wait("#emergency-result .notice")
        glass = phr.run(
            "breakglass", "--patient", pid, "--reason", "found unconscious",
            "-o", str(root / "page-er.json"), home=root / "doctor", check=False,
        )  # fmt: skip
        assert glass.returncode == 0, glass.stderr

        # the break-glass access reaches the ledger a moment after the doctor's command
        # returns: the page is opened again until its line is there
        deadline = time.monotonic() + 60
        while True:
            page.go("records")  # away and back: the history is read again
            page.go("audit")
            page.wait("#audit-summary")
            page.until(lambda: "All" in page.el("#audit-summary").text, "not all verified")
            if page.all("#timeline li.breakglass") or time.monotonic() > deadline:
                break
            time.sleep(1)
        summary = page.el("#audit-summary")
        assert "verified against the ledger's signed checkpoint" in summary.text
        assert page.wait("#timeline li.breakglass[data-verified=true]")
        assert not page.all('#timeline li[data-verified="false"]')
        page.shot("audit")

        # a fresh load: the keys kept in IndexedDB (encrypted), opened by the passphrase
        page.open(page_url(stack))
        page.wait('[name="open-passphrase"]')
        page.fill("open-passphrase", "wrong")
        page.click("open-keys")
        assert "passphrase does not open" in page.wait("#signin-errors [role=alert]").text
        page.fill("open-passphrase", secret)
        page.click("open-keys")
        page.wait(f'[data-record="{record}"]')
        assert not [e for e in page.console_errors() if "Content Security Policy" in e]
    assert audit == [], "\n".join(audit)
