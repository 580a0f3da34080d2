"""What every route of every running service does with what a client sends: correlation
ids of the caller's own, bodies that are not JSON, of another media type or too large
(before any token is checked, with every process's memory bounded), and its log lines.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.identity import service_url
from tests.support.records import events_of_record, marked_bundle, new_patient, topic_messages
from tests.support.sharing import sharing_world
from tests.support.stack import stack_module

pytestmark = pytest.mark.e2e

MIB = 1 << 20
#: a route per service that takes a JSON body (the KGC's needs no token at all); the
#: ledger takes no body anywhere: a body to any of its paths gets the default limit
JSON_ROUTES = {
    "kgc": "/v1/auth/challenge",
    "owner-api": "/v1/patients/u_x/grants",
    "user-api": "/v1/access",
    "srs": "/v1/reencrypt",
    "cloud-store": "/v1/search",
}


def _services(stack: Any) -> dict[str, str]:
    return {s.name: str(stack.service_url(s)) for s in stack_module().SERVICES}


def _json_route(name: str) -> str | None:
    return JSON_ROUTES.get(name.split("-")[0] if name.startswith("srs-") else name)


def _problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, (resp.request.url, resp.status_code, resp.text[:300])
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.headers["x-request-id"]
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    return body


async def test_a_callers_own_correlation_id_flows_into_answers_and_events(stack: Any) -> None:
    cid = f"hosp-req-42-{uuid.uuid4().hex[:8]}"
    headers = {"X-Correlation-ID": cid}
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    patient = await new_patient(stack)
    async with patient.records() as records:
        info = await records.upload_record(marked_bundle("CID"), **patient.upload_args())
    owner = service_url(stack, "owner-api")
    async with httpx.AsyncClient(timeout=15) as http:
        resp = await http.delete(
            f"{owner}/v1/patients/{patient.id}/records/{info.record_id}",
            headers={
                **headers,
                "Authorization": f"Bearer {patient.token}",
                "traceparent": traceparent,
            },
        )
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-correlation-id"] == cid
    deleted = await events_of_record(stack, info.record_id, "record.deleted")
    assert [e["correlationid"] for e in deleted] == [cid]
    # the caller's trace went on over HTTP (owner-api -> cloud-store) and into the event
    assert deleted[0]["traceparent"].split("-")[1] == trace_id
    logs = Path(stack.base) / "logs"
    for name in ("owner-api", "cloud-store"):
        text = (logs / f"{name}.jsonl").read_text()
        assert f'"trace_id": "{trace_id}"' in text, name

    world = await sharing_world(stack)
    async with httpx.AsyncClient(timeout=15) as http:
        resp = await http.post(
            service_url(stack, "user-api") + "/v1/access",
            json={"patient_id": patient.id, "record_id": info.record_id},
            headers={
                **headers,
                "Authorization": f"Bearer {world.doctor.token}",
                "traceparent": traceparent,
            },
        )
    assert resp.status_code < 500, resp.text  # a denial (no grant), recorded: never a 5xx
    assert resp.headers["x-correlation-id"] == cid
    access = [json.loads(v) for _, v in await topic_messages(stack, ["phr.access"])]
    ours = [e for e in access if isinstance(e, dict) and e.get("correlationid") == cid]
    assert ours and all(e["traceparent"].split("-")[1] == trace_id for e in ours)


async def test_a_malformed_correlation_id_is_replaced_never_a_500(stack: Any) -> None:
    kgc = service_url(stack, "kgc")
    async with httpx.AsyncClient(timeout=10) as http:
        for bad in ("x" * 129, "two words", "a;b", "ü"):
            resp = await http.get(kgc + "/v1/params", headers={b"X-Correlation-ID": bad.encode()})
            assert resp.status_code == 200
            assert resp.headers["x-correlation-id"] != bad
            uuid.UUID(resp.headers["x-correlation-id"])


async def test_every_service_answers_bad_bodies_with_400_415_413_before_auth(stack: Any) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        for name, url in _services(stack).items():
            route = _json_route(name)
            if route is None:
                continue
            path = url + route
            resp = await http.post(
                path, content=b'{"a": ', headers={"content-type": "application/json"}
            )
            _problem(resp, 400)
            resp = await http.post(path, content=b"a=1", headers={"content-type": "text/plain"})
            _problem(resp, 415)
            resp = await http.post(
                path, content=b" " * (2 * MIB), headers={"content-type": "application/json"}
            )
            assert _problem(resp, 413)["max_body_bytes"] == MIB


def _rss_mib(pids: dict[str, int]) -> dict[str, float]:
    return {name: psutil.Process(pid).memory_info().rss / MIB for name, pid in pids.items()}


async def test_four_concurrent_50_mb_bodies_leave_every_service_bounded(stack: Any) -> None:
    """Declared and chunked (no length), to each service's JSON route and its root."""
    pids = {s.name: stack.pid(s.name) for s in stack_module().SERVICES}
    assert all(pids.values()), pids
    before = _rss_mib(pids)
    peak = dict(before)
    body = b"x" * (50 * MIB)

    async def chunked() -> Any:
        for i in range(0, len(body), MIB):
            yield body[i : i + MIB]

    async def send(http: httpx.AsyncClient, url: str, declared: bool) -> int:
        try:
            resp = await http.post(
                url,
                content=body if declared else chunked(),
                headers={"content-type": "application/json"},
            )
        except httpx.TransportError:
            return 413  # the server may close before the client has sent it all
        return resp.status_code

    async def watch(done: asyncio.Event) -> None:
        while not done.is_set():
            for name, rss in _rss_mib(pids).items():
                peak[name] = max(peak[name], rss)
            await asyncio.sleep(0.05)

    services = _services(stack)
    async with httpx.AsyncClient(timeout=120) as http:
        for name, url in services.items():
            target = url + (_json_route(name) or "/v1/checkpoint")
            done = asyncio.Event()
            watcher = asyncio.create_task(watch(done))
            statuses = await asyncio.gather(
                *(send(http, target, declared=i % 2 == 0) for i in range(4))
            )
            done.set()
            await watcher
            # a body to a route that takes none is never read: the route answers (405)
            assert statuses[0::2] == [413, 413], (name, statuses)
            chunked_to = [413, 413] if _json_route(name) else statuses[1::2]
            assert statuses[1::2] == chunked_to and all(400 <= s < 500 for s in statuses)
    grown = {name: round(peak[name] - before[name], 1) for name in pids}
    # a body held in memory would be 50 MiB each, 200 MiB for four
    assert all(g < 25 for g in grown.values()), grown


def test_every_log_line_names_its_service_request_and_correlation(stack: Any) -> None:
    logs = Path(stack.base) / "logs"
    for url in _services(stack).values():
        httpx.get(url + "/openapi.json", timeout=10).raise_for_status()
    for spec in stack_module().SERVICES:
        text = (logs / f"{spec.name}.jsonl").read_text()
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        recent = lines[-2000:]
        assert recent, spec.name
        without = [line for line in recent if "service" not in line]
        assert not without, (spec.name, without[:3])
        requests = [line for line in recent if line.get("event") == "request.completed"]
        assert requests, spec.name
        assert all(r.get("request_id") and r.get("correlation_id") for r in requests)


def _families(url: str) -> dict[str, Any]:
    resp = httpx.get(url + "/metrics", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=")
    return {f.name: f for f in text_string_to_metric_families(resp.text)}


def test_every_service_serves_prometheus_metrics(stack: Any) -> None:
    """Parsed by prometheus-client's own parser, after the traffic of the tests above."""
    services = _services(stack)
    for name, url in services.items():
        httpx.get(url + "/healthz", timeout=10).raise_for_status()
        families = _families(url)
        requests = families["phr_http_requests"]
        assert requests.type == "counter"
        routes = {s.labels["route"] for s in requests.samples}
        assert "/healthz" in routes, (name, routes)
        assert all(not r.startswith("/v1/patients/u_") for r in routes)  # templates only
        duration = families["phr_http_request_duration_seconds"]
        assert duration.type == "histogram"
        assert any(
            s.name.endswith("_bucket") and s.labels["le"] == "+Inf" for s in duration.samples
        )
        published = families["phr_events_published"]
        assert any(s.labels["type"] == "service.started" for s in published.samples), name
        assert "phr_events_publish_failed" in families
        lag = families["phr_consumer_lag"]
        assert {s.labels["topic"] for s in lag.samples} >= {"phr.revocations"} or name == "kgc"
    assert _families(services["srs-1"])["phr_srs_decisions"].type == "counter"
    ledger = _families(services["ledger"])
    assert ledger["phr_ledger_height"].type == "gauge"
    assert ledger["phr_ledger_events_ingested"].samples[0].value > 0  # service.started, …
    assert _families(services["owner-api"])["phr_outbox_depth"].samples[0].value == 0
