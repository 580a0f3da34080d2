"""Every `phr` command with ``--json`` after the subcommand prints one JSON document.

The cases come from the command tree itself (typer's click group): a command added
without a case here fails :func:`test_every_command_has_a_case`. Each case gives the
arguments a person would type; with no identity and no reachable system most commands
fail, and a failure must be a JSON error object on stdout with the same non-zero
status, never a usage error (the arguments are valid) nor rich text or a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from phr.cli import app, main
from phr.cli.output import Mode

#: a port nothing listens on (discard): every call to "the system" is refused at once
NOWHERE = "127.0.0.1:9"


def command_paths() -> list[str]:
    """Every leaf command of `phr`, as its words (``events dump``)."""

    def walk(command: Any, path: list[str]) -> Iterator[str]:
        subs = getattr(command, "commands", None)
        if subs is None:
            yield " ".join(path)
            return
        for name, sub in sorted(subs.items()):
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


def cases(tmp: Path) -> dict[str, list[str]]:
    """The arguments of each command (files under ``tmp``; none of them exists unless
    made here, so a command that reads one fails as a person's would)."""
    jwks = tmp / "client.jwks.json"
    bundle = tmp / "bundle.json"
    bundle.write_text('{"resourceType": "Bundle", "type": "collection", "entry": []}')
    capture = tmp / "capture.ndjson"
    capture.write_text('{"kind": "not-a-capture"}\n')
    return {
        "admin backup": [str(tmp / "backup")],
        "admin restore": [str(tmp / "no-backup")],
        "approve": ["u-0000"],
        "audit": [],
        "breakglass": ["--patient", "p-0000", "--reason", "unconscious in the ER"],
        "delegate": ["--to", "u-0000", "--segments", "labs"],
        "delete": ["r-0000"],
        "demo": ["--operator-home", str(tmp / "operator")],
        "emergency-segments": ["labs,conditions"],
        "enrol": ["--name", "Ann", "--role", "patient"],
        "events dump": ["-o", str(tmp / "dump.ndjson"), "--bootstrap", NOWHERE],
        "events generate": ["-o", str(tmp / "generated.ndjson")],
        "events replay": [str(capture), "--bootstrap", NOWHERE],
        "events report": [str(capture), "--bootstrap", NOWHERE, "--ledger", f"http://{NOWHERE}"],
        "events verify": [str(capture)],
        "fetch": ["r-0000"],
        "gateway assertion": [
            "--key",
            str(tmp / "no-key.json"),
            "--client-id",
            "ehr-1",
            "--token-url",
            f"http://{NOWHERE}/auth/token",
        ],
        "gateway client-key": ["-o", str(tmp / "client-key.json"), "--jwks", str(jwks)],
        "gateway register-client": [
            "--client-id",
            "ehr-1",
            "--jwks",
            str(jwks),
            "--scope",
            "system/Observation.rs",
        ],
        "grant": ["--segments", "labs", "--user", "u-0000"],
        "grants": [],
        "keys export": ["--public"],
        "ledger verify": [],
        "org create": ["St Mary", "--kind", "hospital"],
        "records": [],
        "revoke": ["g-0000"],
        "revoke-user": ["u-0000", "--reason", "left the hospital"],
        "rotate": [],
        "search": ["--word", "glucose"],
        "trace": [str(tmp / "leaked.key")],
        "upload": [str(bundle)],
        "version": [],
        "whoami": [],
    }


@pytest.fixture(autouse=True)
def nobody(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("PHR_PASSPHRASE", "PHR_KAFKA", "PHR_LEDGER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PHR_HOME", str(tmp_path / "nobody"))
    monkeypatch.setenv("PHR_KGC_URL", f"http://{NOWHERE}")
    yield
    Mode.as_json = Mode.debug = False


def test_every_command_has_a_case(tmp_path: Path) -> None:
    assert sorted(cases(tmp_path)) == command_paths()


@pytest.mark.parametrize("path", command_paths())
def test_json_after_the_subcommand_is_one_json_document(
    path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*path.split(), *cases(tmp_path)[path], "--json"]
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    code = done.value.code if isinstance(done.value.code, int) else 0
    assert "Traceback" not in err, err
    document = json.loads(out)  # the whole of stdout: one JSON document, nothing else
    if code == 0:
        assert "error" not in document, document
        return
    error = document["error"]
    assert error["exit_code"] == code, (code, error)
    assert isinstance(error["message"], str) and error["message"], error
    assert error.get("kind") != "usage", f"phr {' '.join(args)}: {error['message']}"
