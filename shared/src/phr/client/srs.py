"""Check an SRS node's signed re-encryption answer (pure; used by user-api and readers).

A node signs ``phr-srs-reencrypt/v1`` answers with its Ed25519 key (the registry's and
the KGC parameters' ``ed25519_public`` of that node) over the RFC 8785 JSON of every
field but ``node_signature``. An answer counts only if that signature holds under the
key of the node it names and it echoes the request it answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phr.api.srs import ANSWER_FORMAT
from phr.crypto.signing import SignatureInvalid, VerifyKey, b64u_decode


class NodeAnswerInvalid(ValueError):
    """Unsigned, badly signed, or not the answer to this request."""


def verify_node_answer(
    node_id: str, key: VerifyKey, body: Any, expected: Mapping[str, str]
) -> dict[str, Any]:
    """``body`` if node ``node_id`` signed it and it echoes ``expected``; else raises
    :class:`NodeAnswerInvalid`."""
    if not isinstance(body, dict):
        raise NodeAnswerInvalid("answer is not a JSON object")
    signature = body.get("node_signature")
    if not isinstance(signature, str) or not signature:
        raise NodeAnswerInvalid("unsigned answer")
    payload = {k: v for k, v in body.items() if k != "node_signature"}
    try:
        key.verify_json(b64u_decode(signature), payload)
    except (SignatureInvalid, ValueError) as exc:
        raise NodeAnswerInvalid("node signature does not verify") from exc
    wanted = {"format": ANSWER_FORMAT, "node_id": node_id, **expected}
    mismatched = sorted(k for k, v in wanted.items() if body.get(k) != v)
    if mismatched:
        raise NodeAnswerInvalid(f"answer does not match the request: {mismatched}")
    return body
