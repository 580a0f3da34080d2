"""The generated parts of docs/operations.md: every setting of every service, and resource figures.

    uv run python deploy/settings_doc.py          # rewrite the generated sections
    uv run python deploy/settings_doc.py --check  # exit 1 if they are stale (the test does this)

Settings come from each service's ``Settings`` class (pydantic-settings): the environment
variable (prefix, nested groups joined by ``__``), the type, the default and the meaning,
taken from the ``#:`` comment above the field in the source. Resource figures come from
``bench/results/latest.json`` (the last ``make bench``).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operations.md"
BENCH = ROOT / "bench" / "results" / "latest.json"
#: (service, import name) in the order of the page
SERVICES = [
    ("kgc", "kgc"),
    ("owner-api", "owner_api"),
    ("user-api", "user_api"),
    ("cloud-store", "cloud_store"),
    ("ledger", "ledger"),
    ("srs", "srs"),
]
_FIELD = re.compile(r"^\s+(\w+)\s*:")


def _comments(cls: type) -> dict[str, str]:
    """``#:`` comments above each field of ``cls`` and its bases, joined into one line."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not issubclass(klass, BaseModel) or klass is BaseModel:
            continue
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("#:"):
                pending.append(stripped[2:].strip())
                continue
            match = _FIELD.match(line)
            if match and pending:
                found[match.group(1)] = " ".join(pending)
            if stripped and not stripped.startswith("#"):
                pending = []
    return found


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a field's annotation (``X``, ``X | None``), if any."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = nested_model(arg)
        if found is not None:
            return found
    return None


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return " \\| ".join(_type_name(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(repr(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.default
    if value is PydanticUndefined and field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    if isinstance(value, SecretStr):
        return "(secret)" if value.get_secret_value() else '""'
    if isinstance(value, BaseModel):
        return "see below"
    if value is None:
        return "unset"
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    notes = _comments(model)
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        sub = nested_model(field.annotation)
        if sub is not None:
            group_default = field.default if isinstance(field.default, BaseModel) else None
            for var, typ, default, meaning in _rows(sub, f"{env}__"):
                if group_default is not None:
                    key = var[len(env) + 2 :].lower().split("__")[0]
                    value = getattr(group_default, key, None)
                    if value is not None and not isinstance(value, (BaseModel, SecretStr)):
                        default = f"`{value}`"
                rows.append((var, typ, default, meaning))
            continue
        meaning = (field.description or notes.get(name, "")).replace("|", "\\|")
        rows.append((env, _type_name(field.annotation), _default(field), meaning))
    return rows


def settings_section() -> str:
    out = []
    for service, module in SERVICES:
        cls = importlib.import_module(f"{module}.settings").Settings
        prefix = cls.model_config.get("env_prefix", "")
        out += [f"### {service} (`{prefix}*`, `{module}.settings.Settings`)", ""]
        out += ["| variable | type | default | meaning |", "|---|---|---|---|"]
        out += [f"| `{v}` | {t} | {d} | {m} |" for v, t, d, m in _rows(cls, prefix)]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def resources_section() -> str:
    report = json.loads(BENCH.read_text())
    rss = report.get("rss_mib_by_service", {})
    cpu = report.get("cpu_s_by_service", {})
    machine = report.get("machine", {})
    out = [
        f"From `bench/results/latest.json` (`make bench`, {machine.get('cpus', '?')} CPUs, "
        f"{machine.get('cpu_model', '?')}): resident memory of each process and CPU seconds "
        "it spent during the 64-client access phase.",
        "",
        "| process | RSS (MiB) | CPU during the 64-client phase (s) |",
        "|---|---|---|",
    ]
    for name in sorted(set(rss) | set(cpu)):
        out.append(f"| {name} | {rss.get(name, '')} | {cpu.get(name, '')} |")
    per_access = report.get("cpu_ms_per_access_64c")
    if per_access is not None:
        out += ["", f"CPU per access over every process at 64 clients: {per_access} ms."]
    return "\n".join(out) + "\n"


SECTIONS = {"settings": settings_section, "resources": resources_section}


def render(text: str) -> str:
    """``text`` with every ``<!-- generated:NAME -->`` … ``<!-- end:NAME -->`` block rewritten."""
    for name, make in SECTIONS.items():
        start, end = f"<!-- generated:{name} -->", f"<!-- end:{name} -->"
        if start not in text or end not in text:
            raise SystemExit(f"{DOC} lacks the markers {start} … {end}")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{make()}{end}{tail}"
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/operations.md is stale")
    args = ap.parse_args(argv)
    current = DOC.read_text()
    fresh = render(current)
    if args.check:
        if fresh != current:
            print(f"{DOC.relative_to(ROOT)} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
