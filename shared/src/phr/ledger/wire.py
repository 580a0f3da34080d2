"""JSON shapes of what the ledger serves (hashes in lowercase hex, bytes in base64)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from phr.api import examples as ex

# Example values made by the ledger's own code (a block at height 7 of a 24-leaf log).
_ORIGIN = "phr-exchange.example/ledger"
_ROOT = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
_LEAVES: list[Any] = [
    "6734db3b19b64dc83703f9a1f4aee7697dfb292fb4e0827cc63f8a351b1b3609",
    "a9e8895f52faac9f644cd89d459e619f53f77b58e69f421918edc1646ef48494",
    "4fb70daa0a6daaf7e93f2b37c5e5df73346630fd8a51996d50f1d8eeff279426",
]
_EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "3f7c1a2e-9b4d-4e8a-a6f1-2c3d4e5f6a7b",
    "source": "user-api",
    "type": "record.accessed",
    "time": ex.LATER,
    "subject": ex.PATIENT,
    "dataschema": "https://phr-exchange.org/schemas/record.accessed/1.json",
    "schemaversion": 1,
    "correlationid": "hosp-req-42",
    "data": {"record_id": ex.RECORD, "requester_id": ex.DOCTOR, "segments": [ex.SEGMENT]},
}
_INCLUSION: dict[str, Any] = {
    "event_id": _EVENT["id"],
    "height": 7,
    "leaf_index": 22,
    "tree_size": 24,
    "root_hash": _ROOT,
    "hashes": _LEAVES[2:] + [ex.SHA256, ex.MANIFEST_SHA256],
    "event": _EVENT,
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class BlockOut(_Model):
    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "height": 7,
                    "hash": "5b7425408eed00dc3a2c0d98a9f4013b5fa9f8529c1ef989137eb30473e086a1",
                    "header": {
                        "version": 1,
                        "height": 7,
                        "prev_hash": (
                            "148de9c5a7a44d19e56cd9ae1a554bf67847afb0c58f6e12fa29ac7ddfca9940"
                        ),
                        "merkle_root": (
                            "62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a"
                        ),
                        "count": 3,
                        "log_size": 24,
                        "log_root": _ROOT,
                        "time": "2026-03-14T09:26:53+00:00",
                        "time_us": 1773480413000000,
                        "first_offset": 21,
                        "next_offset": 24,
                    },
                    "header_bytes": (
                        "UEhSLUxFREdFUi1CTE9DSwEAAAAAAAAABxSN6cWnpE0Z5WzZrhpVS/Z4R6+wxY9uEvoprH3f"
                        "yplAYsZqel3XDDFGYYBjw0TlMebUtZ43mAhEPOlis6vWPFoAAAADAAAAAAAAABgtcRZCtyaw"
                        "RAFifKn7rDL1yFMPsZA8xNsCJYcXkhpIgQAGTPiWCHFAAAAAAAAAABUAAAAAAAAAGA=="
                    ),
                    "signature": (
                        "mhvl5+iDlNH0Zpjp7ytOiUjkfTIypK3sl8369mJc3NA7BDmRBHMtHhZ0QRGgLMIHmiHsCYR8"
                        "MxqN5vxp3MB7Bw=="
                    ),
                    "leaf_hashes": _LEAVES,
                }
            ]
        },
    )
    height: int
    hash: str
    #: the decoded header, for reading; ``header_bytes`` is what is signed and hashed
    header: dict[str, Any]
    header_bytes: str
    signature: str
    #: RFC 6962 leaf hashes (hex) of the block's events, in leaf order: enough to check
    #: the block and the log without reading an event (event bodies are health data)
    leaf_hashes: list[str]


class InclusionProofOut(_Model):
    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [_INCLUSION]})
    event_id: str
    height: int
    leaf_index: int
    tree_size: int
    root_hash: str
    hashes: list[str]
    event: dict[str, Any]


class ConsistencyProofOut(_Model):
    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "first": 16,
                    "second": 24,
                    "first_root": ex.MANIFEST_SHA256,
                    "second_root": _ROOT,
                    "hashes": [ex.SHA256, _LEAVES[0]],
                }
            ]
        },
    )
    first: int
    second: int
    first_root: str
    second_root: str
    hashes: list[str]


class AuditTrailOut(_Model):
    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "subject": ex.PATIENT,
                    "checkpoint": _ORIGIN + "\n24\nLXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=\n\n"
                    "\u2014 "
                    + _ORIGIN
                    + " Xq+WHYDLTpwyId6LGQ8nypJ4WwwLaR5fDUuJBSHyCz27HlnUOaL93eLT"
                    "857cVDJypewBnDTdrnhPjNm8TMdP2lQIqwI=\n",
                    "tree_size": 24,
                    "entries": [_INCLUSION],
                }
            ]
        },
    )
    subject: str
    #: the signed note every proof below leads to
    checkpoint: str
    tree_size: int
    entries: list[InclusionProofOut]


class ChainReport(_Model):
    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [{"ok": True, "blocks": 8, "log_size": 24, "log_root": _ROOT, "errors": []}]
        },
    )
    ok: bool
    blocks: int
    log_size: int
    log_root: str
    errors: list[str]


class LedgerKeyOut(_Model):
    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "origin": _ORIGIN,
                    "ed25519_public": "bUT5Ofgp1DWYvN7dqQ3gHbafqlDKoz6MbDKKS5ANTaw",
                    "vkey": _ORIGIN + "+5eaf961d+AW1E+Tn4KdQ1mLze3akN4B22n6pQyqM+jGwyikuQDU2s",
                }
            ]
        },
    )
    origin: str
    ed25519_public: str
    vkey: str
