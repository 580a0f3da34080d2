"""The one-machine stack gives each access producer a partition of phr.access of its own.

Tansu's S3 engine stalls about 1 s when producers meet on one partition; user-api and
every SRS node publish a patient's access events at once. No servers needed: the specs,
the environment the stack starts each process with, and the settings it parses into.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import deploy.local
from deploy.local.services import ACCESS_TOPIC, access_partitions, service_specs
from phr.events.catalog import TOPIC_ACCESS
from phr.service.settings import KafkaSettings
from srs.settings import Settings as SrsSettings
from user_api.settings import Settings as UserApiSettings


def stack_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nodes: int) -> deploy.local.Stack:
    for name in ("PHR_PORT_OFFSET", "PHR_SRS_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PHR_SRS_NODES", str(nodes))
    p = deploy.local.profile("dev")
    return deploy.local.Stack(deploy.local.Profile("dev", tmp_path, p.ports, nodes, 1))


def test_the_access_topic_is_the_catalogs() -> None:
    assert ACCESS_TOPIC == TOPIC_ACCESS


@pytest.mark.parametrize("nodes", [1, 3, 5])
def test_user_api_and_each_node_get_their_own_partition(
    nodes: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = stack_of(tmp_path, monkeypatch, nodes)
    given = {
        s.name: stack.service_env(s).get(f"{s.env_prefix}KAFKA__PRODUCER_PARTITION")
        for s in stack.services
    }
    producers = {"user-api": "0"} | {f"srs-{i}": str(i) for i in range(1, nodes + 1)}
    # the access producers have one each, all different; nobody else has one
    assert {n: v for n, v in given.items() if v is not None} == producers
    assert len(set(producers.values())) == len(producers) == access_partitions(nodes)
    assert max(int(v) for v in producers.values()) == access_partitions(nodes) - 1


def test_the_services_parse_their_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = stack_of(tmp_path, monkeypatch, 3)
    for name, cls, want in (("user-api", UserApiSettings, 0), ("srs-2", SrsSettings, 2)):
        env = stack.service_env(stack.spec(name))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        assert cls().kafka.producer_partition == want
    assert KafkaSettings().producer_partition is None  # elsewhere: by key, as before


def test_a_negative_partition_is_refused() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        KafkaSettings(producer_partition=-1)


def test_specs_without_a_stack_keep_the_same_partitions() -> None:
    parts = {s.name: s.partition for s in service_specs(2) if s.partition is not None}
    assert parts == {"user-api": 0, "srs-1": 1, "srs-2": 2}
