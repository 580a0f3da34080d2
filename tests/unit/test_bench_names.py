"""No bench script shadows a service package, and none imports the tests.

``python bench/x.py`` puts ``bench/`` first on ``sys.path``: a ``bench/ledger.py`` would
be imported as ``ledger`` instead of the ledger service. The benches build their people
with ``phr.scenario`` and their stack with ``deploy.local``, not ``tests.support``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_bench_module_is_named_like_a_package_of_the_workspace() -> None:
    packages = {p.name for p in ROOT.glob("services/*/src/*") if (p / "__init__.py").exists()}
    packages |= {"phr", "tests", "deploy"}
    assert {"ledger", "owner_api"} <= packages
    bench = {p.stem for p in (ROOT / "bench").glob("*.py")}
    assert bench, "no bench scripts found"
    assert not bench & packages, sorted(bench & packages)


def imported_roots(source: str) -> set[str]:
    """The top-level package of every import in ``source`` (relative ones as ".")."""
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add("." if node.level else (node.module or "").split(".")[0])
    return roots


def test_imported_roots_sees_every_form_of_import() -> None:
    source = "import tests.support\nfrom tests import x\nif True:\n    import phr as p\n"
    assert imported_roots(source) == {"tests", "phr"}
    assert imported_roots("from . import cast\n") == {"."}


def test_no_bench_module_imports_the_tests() -> None:
    scripts = sorted((ROOT / "bench").glob("*.py"))
    assert len(scripts) > 5, scripts
    offenders = [p.name for p in scripts if "tests" in imported_roots(p.read_text())]
    assert not offenders, offenders
