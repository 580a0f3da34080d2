"""Run the `phr` command as a person would: a subprocess, with its own PHR_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSPHRASE = "correct horse battery staple"


@dataclass
class Phr:
    """`phr` bound to a system (KGC URL) and a passphrase; each call names its home."""

    kgc_url: str
    kafka: str | None = None
    passphrase: str | None = PASSPHRASE

    def run(
        self,
        *args: str,
        home: Path | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")}
        full_env["PHR_KGC_URL"] = self.kgc_url
        full_env["COLUMNS"] = "200"
        if self.kafka:
            full_env["PHR_KAFKA"] = self.kafka
        if self.passphrase is not None:
            full_env["PHR_PASSPHRASE"] = self.passphrase
        if home is not None:
            full_env["PHR_HOME"] = str(home)
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "phr.cli", *args],
            env=full_env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"phr {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def json(self, *args: str, home: Path | None = None, **kw: Any) -> Any:
        """``phr ARGS --json``: the global option after the subcommand, as people write it."""
        proc = self.run(*args, "--json", home=home, **kw)
        return json.loads(proc.stdout)


def assert_clean_failure(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    """Non-zero, one line on stderr naming the problem, no traceback."""
    assert proc.returncode != 0, proc.stdout
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert err.startswith("error:") or "Error" in err or "Usage" in err, err
    lowered = err.lower()
    for word in words:
        assert word.lower() in lowered, (word, err)
