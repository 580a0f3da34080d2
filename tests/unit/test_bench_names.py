"""No bench script shadows a service package.

``python bench/x.py`` puts ``bench/`` first on ``sys.path``: a ``bench/ledger.py`` would
be imported as ``ledger`` instead of the ledger service.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_bench_module_is_named_like_a_package_of_the_workspace() -> None:
    packages = {p.name for p in ROOT.glob("services/*/src/*") if (p / "__init__.py").exists()}
    packages |= {"phr", "tests", "deploy"}
    assert {"ledger", "owner_api"} <= packages
    bench = {p.stem for p in (ROOT / "bench").glob("*.py")}
    assert bench, "no bench scripts found"
    assert not bench & packages, sorted(bench & packages)
