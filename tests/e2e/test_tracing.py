"""One OpenTelemetry trace across processes: `phr fetch` through user-api, the SRS nodes
and cloud-store, exported over OTLP/HTTP to the session's receiver (tests/support/otlp).

The command's span is the root; the SDK's requests carry its W3C ``traceparent``;
each service's server span continues the caller's trace, and what user-api asks of the
SRS nodes and cloud-store continues it again. Without an endpoint nothing is exported.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import Phr, share_labs
from tests.support.identity import operator_file, service_url
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.waiting import wait_sync

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

FIXTURE = Path(__file__).resolve().parents[2] / "shared/tests/data/synthea_r4_seed42.json.gz"
SERVER, CLIENT = 2, 3  # OTLP's SpanKind numbers


@pytest.fixture(scope="module")
def shared_record(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A doctor who may read a patient's labs (checked with an untraced fetch)."""
    phr = Phr(kgc_url=service_url(stack, "kgc"))
    root = tmp_path_factory.mktemp("traced")
    labs = share_labs(phr, operator_file(stack).parent, root, gzip.decompress(FIXTURE.read_bytes()))
    return {"phr": phr, "doctor": labs.doctor, "record": labs.record_id}


def _root(spans: list[ReceivedSpan]) -> ReceivedSpan | None:
    return next((s for s in spans if s.service == "phr-cli" and s.name == "phr fetch"), None)


def test_a_fetch_is_one_trace_through_user_api_the_srs_nodes_and_cloud_store(
    stack: Any, otlp: OtlpReceiver, shared_record: dict[str, Any]
) -> None:
    phr: Phr = shared_record["phr"]
    before = len(otlp.spans)
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint}
    phr.run("fetch", shared_record["record"], "--segments", "labs", "--json",
            home=shared_record["doctor"], env=env)  # fmt: skip
    root = _root(otlp.spans[before:])
    assert root is not None, sorted({(s.service, s.name) for s in otlp.spans[before:]})
    assert root.kind == CLIENT and root.parent_span_id == ""
    threshold = stack.p.srs_threshold

    def whole() -> bool:  # a parent ends (and is exported) after its children
        spans = otlp.trace(root.trace_id)
        services = {s.service for s in spans}
        srs = {s for s in services if s.startswith("srs")}
        ids = {s.span_id for s in spans}
        parents = all(s.parent_span_id in ids for s in spans if s.span_id != root.span_id)
        return {"user-api", "cloud-store"} <= services and len(srs) >= threshold and parents

    wait_sync(whole, timeout=30, interval=0.3)
    spans = otlp.trace(root.trace_id)
    by_id = {s.span_id: s for s in spans}
    # user-api's request spans are children of the command's span (the SDK's traceparent)
    user_api = [s for s in spans if s.service == "user-api" and s.kind == SERVER]
    assert any(s.name == "POST /v1/access" for s in user_api), [s.name for s in user_api]
    assert all(s.parent_span_id == root.span_id for s in user_api)
    # each SRS node's and cloud-store's server span is a child of a user-api span; what
    # else was asked (the KGC's parameters, owner-api's listing) is the command's or
    # user-api's
    for span in spans:
        if span.kind != SERVER:
            continue
        parent = by_id.get(span.parent_span_id)
        assert parent is not None, span
        behind_user_api = span.service.startswith("srs") or span.service == "cloud-store"
        allowed = {"user-api"} if behind_user_api else {"user-api", "phr-cli"}
        assert parent.service in allowed, (span, parent)


def test_without_an_endpoint_a_command_exports_nothing(
    otlp: OtlpReceiver, shared_record: dict[str, Any]
) -> None:
    phr: Phr = shared_record["phr"]
    before = len(otlp.spans)
    phr.run("fetch", shared_record["record"], "--segments", "labs", "--json",
            home=shared_record["doctor"])  # fmt: skip
    # a command exports as it ends, if at all: the services' spans may come, not its own
    assert [s for s in otlp.spans[before:] if s.service == "phr-cli"] == []
