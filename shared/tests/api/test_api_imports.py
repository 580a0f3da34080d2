"""phr.api imports only pydantic, the standard library and itself (the allow-list)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import phr.api

ALLOWED = {"pydantic", "__future__"}


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import stays inside phr.api
                continue
            names.add(node.module or "")
    return names


def test_phr_api_imports_only_pydantic_and_the_standard_library() -> None:
    modules = sorted(Path(phr.api.__file__).parent.glob("*.py"))
    assert len(modules) > 1
    outside = {
        f"{path.name}: {name}"
        for path in modules
        for name in _imported(path)
        if not name.startswith("phr.api")
        and name.split(".")[0] not in ALLOWED
        and name.split(".")[0] not in sys.stdlib_module_names
    }
    assert not outside, sorted(outside)
