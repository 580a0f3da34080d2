"""The local stack (deploy/local/stack.py) as a test fixture: own ports, own data dir."""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@cache
def stack_module() -> ModuleType:
    path = ROOT / "deploy" / "local" / "stack.py"
    spec = importlib.util.spec_from_file_location("phr_local_stack", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_stack(extra_offset: int = 0) -> Any:
    """The `test` profile (PHR_PORT_OFFSET moves it for parallel runs).

    ``extra_offset`` gives a second, independent stack (own ports and data) for tests
    that must start from an empty deployment.
    """
    mod = stack_module()
    return mod.Stack(mod._profile(os.environ.get("PHR_TEST_PROFILE", "test"), extra_offset))


test_stack.__test__ = False  # type: ignore[attr-defined]
