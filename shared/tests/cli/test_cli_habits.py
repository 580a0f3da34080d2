"""The `phr` command's habits (gh, kubectl): global options anywhere, -h, JSON failures,
full values when piped, binary sizes, the correlation id of a server error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phr.cli import main
from phr.cli.argv import hoist_global_options
from phr.cli.home import Home
from phr.cli.output import Mode, emit, human_size
from phr.cli.session import Session, _api_message, report_failure
from phr.sdk.errors import ApiError


def phr(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    code = done.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.fixture(autouse=True)
def no_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PHR_HOME", str(tmp_path / "nobody"))
    monkeypatch.setenv("PHR_KGC_URL", "http://127.0.0.1:9")
    yield
    Mode.as_json = Mode.debug = False


@pytest.mark.parametrize(
    "argv,want",
    [
        (["whoami", "--json"], ["--json", "whoami"]),
        (["--json", "whoami"], ["--json", "whoami"]),
        (
            ["grant", "--user", "u1", "--home", "/h", "--json"],
            ["--home", "/h", "--json", "grant", "--user", "u1"],
        ),
        (["fetch", "r1", "--home=/h", "-o", "x"], ["--home=/h", "fetch", "r1", "-o", "x"]),
        (
            ["ledger", "verify", "--kgc", "http://k", "--debug"],
            ["--kgc", "http://k", "--debug", "ledger", "verify"],
        ),
        (["events", "replay", "--", "--json"], ["events", "replay", "--", "--json"]),
    ],
)
def test_global_options_move_in_front_of_the_command(argv: list[str], want: list[str]) -> None:
    parsed = hoist_global_options(argv)
    assert parsed.args == want
    assert parsed.as_json == (
        "--json" in want[: want.index(want[-1])] if "--" not in want else False
    )


def test_json_after_the_subcommand_gives_a_json_error_object(capsys: Any) -> None:
    code, out, err = phr(capsys, "whoami", "--json")
    assert code == 1
    error = json.loads(out)["error"]
    assert "no identity" in error["message"] and error["exit_code"] == 1


def test_a_usage_error_under_json_is_json_with_status_2(capsys: Any) -> None:
    code, out, _ = phr(capsys, "enrol", "--json")
    assert code == 2 and json.loads(out)["error"]["kind"] == "usage"
    code, out, _ = phr(capsys, "no-such-command", "--json")
    assert code == 2 and "no-such-command" in json.loads(out)["error"]["message"]
    code, out, _ = phr(capsys, "org", "--json")
    assert code == 2 and json.loads(out)["error"]["kind"] == "usage"


def test_without_json_a_failure_is_one_line_on_stderr(capsys: Any) -> None:
    code, out, err = phr(capsys, "whoami")
    assert code == 1 and out == "" and err.startswith("error: no identity")
    assert "Traceback" not in err


def test_debug_prints_the_traceback(capsys: Any) -> None:
    code, _, err = phr(capsys, "whoami", "--debug")
    assert code == 1 and "Traceback" in err and "error: no identity" in err


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_h_is_help_on_every_level(capsys: Any, flag: str) -> None:
    for path in ([], ["whoami"], ["org"], ["org", "create"], ["ledger", "verify"]):
        code, out, _ = phr(capsys, *path, flag)
        assert code == 0 and "Usage" in out, path


def test_piped_tables_are_tab_separated_and_keep_every_id(capsys: Any) -> None:
    long_id = "g_" + "0123456789abcdef" * 6
    emit(None, as_json=False, lines=["[bold]2[/] grants"], table=(["grant"], [(long_id,)]))
    out = capsys.readouterr().out
    assert out == f"2 grants\n{long_id}\n"


@pytest.mark.parametrize(
    "n,text", [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (12 * 2**20, "12.0 MiB")]
)
def test_sizes_are_in_binary_units(n: int, text: str) -> None:
    assert human_size(n) == text


def test_a_server_error_names_its_correlation_id(capsys: Any) -> None:
    exc = ApiError(503, {"title": "Audit trail unavailable", "correlation_id": "hosp-req-42"})
    assert "correlation id hosp-req-42" in _api_message(exc)
    assert "correlation id" not in _api_message(ApiError(404, {"correlation_id": "x"}))
    Mode.as_json = True
    with pytest.raises(SystemExit):
        report_failure(exc)
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["status"] == 503 and error["correlation_id"] == "hosp-req-42"
    assert Session(home=Home.resolve(None)).debug is False


def test_uploads_report_every_byte_sent_and_small_ones_show_no_bar() -> None:
    from phr.cli.transfer import BAR_MIN_BYTES, transfer
    from phr.sdk.records import _counted

    sent: list[int] = []
    data = bytes(range(256)) * 5000
    factory = _counted(data, sent.append, step=100_000)
    chunks = list(factory())  # type: ignore[arg-type]
    assert b"".join(chunks) == data and sum(sent) == len(data) and max(sent) == 100_000
    with transfer("x", quiet=True) as shown:
        shown.bytes(BAR_MIN_BYTES * 10)(5)  # --json: no bar, the advance does nothing
    with transfer("x", quiet=False) as shown:
        assert shown.bytes(BAR_MIN_BYTES - 1).__name__ == "_ignore"
        advance = shown.bytes(BAR_MIN_BYTES)
        advance(BAR_MIN_BYTES)
        assert advance.__name__ == "<lambda>"
