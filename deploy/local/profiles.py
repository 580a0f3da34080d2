"""Profiles: where a one-machine stack keeps its files, which ports it takes, how many SRS nodes.

Two profiles: ``dev`` (`make run`, under ``.local/``) and ``test`` (the test tiers, under
``.local/test/``, its ports 5000 above the dev ones). ``PHR_PORT_OFFSET`` shifts every
port and the data dir, so several stacks share a machine; one port can still be set with
``PHR_<NAME>_PORT`` (``PHR_KAFKA_PORT=9192``), the whole dir with ``PHR_STACK_DIR``.
``PHR_SRS_NODES`` and ``PHR_SRS_THRESHOLD`` choose N and t (default 3 and 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

DEFAULT_SRS_NODES = 3
DEFAULT_SRS_THRESHOLD = 2
#: SRS node ports are taken from here upwards, skipping ports of other processes
SRS_FIRST_PORT = 8011
MAX_SRS_NODES = 16

#: every dev port but the SRS nodes'. Every port, and SeaweedFS's gRPC ports (its port
#: + 10000), stays below 32768, the start of Linux's ephemeral range: an outgoing
#: connection never takes one of ours.
DEV_PORTS: dict[str, int] = {
    "kafka": 9092,
    "mongo": 27017,
    "s3": 9000,
    "weed_master": 9333,
    "weed_volume": 9340,
    "weed_filer": 8888,
    "weed_admin": 9646,
    "kgc": 8001,
    "owner_api": 8002,
    "user_api": 8003,
    "cloud_store": 8004,
    "ledger": 8005,
    "ledger_2": 8015,
}


@dataclass(frozen=True)
class Profile:
    """Where a stack keeps its files, which ports it takes, and its SRS nodes (t of N)."""

    name: str
    base: Path
    ports: dict[str, int]
    srs_nodes: int = DEFAULT_SRS_NODES
    srs_threshold: int = DEFAULT_SRS_THRESHOLD


def srs_port_keys(nodes: int) -> list[str]:
    return [f"srs_{i}" for i in range(1, nodes + 1)]


def dev_ports(nodes: int = DEFAULT_SRS_NODES) -> dict[str, int]:
    """The dev profile's ports for ``nodes`` SRS nodes: 8011, 8012, ... (8015 is ledger-2's)."""
    ports = dict(DEV_PORTS)
    taken = set(ports.values())
    port = SRS_FIRST_PORT
    for key in srs_port_keys(nodes):
        while port in taken:
            port += 1
        ports[key] = port
        taken.add(port)
    return ports


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None


def srs_shape() -> tuple[int, int]:
    """(N, t) from PHR_SRS_NODES and PHR_SRS_THRESHOLD; a clear error for an impossible pair."""
    nodes = _int_env("PHR_SRS_NODES", DEFAULT_SRS_NODES)
    threshold = _int_env("PHR_SRS_THRESHOLD", min(DEFAULT_SRS_THRESHOLD, nodes))
    if not 1 <= nodes <= MAX_SRS_NODES:
        raise SystemExit(f"PHR_SRS_NODES must be 1 to {MAX_SRS_NODES}, not {nodes}")
    if not 1 <= threshold <= nodes:
        raise SystemExit(f"PHR_SRS_THRESHOLD must be 1 to PHR_SRS_NODES ({nodes}), not {threshold}")
    return nodes, threshold


def profile(name: str, extra_offset: int = 0) -> Profile:
    """The named profile as this environment moves it (offset, single ports, dir, N and t).

    ``extra_offset`` gives a second, independent stack (own ports and data), for tests
    that need a deployment of their own.
    """
    nodes, threshold = srs_shape()
    dev = dev_ports(nodes)
    if name == "dev":
        ports, base = dev, ROOT / ".local"
    elif name == "test":
        # Apart from the dev ports and their gRPC twins, so `make test` runs beside `make run`.
        ports = {k: v + 5000 for k, v in dev.items()}
        ports["mongo"] = 17017
        base = ROOT / ".local" / "test"
    else:
        raise SystemExit(f"unknown profile {name!r} (dev or test)")
    offset = _int_env("PHR_PORT_OFFSET", 0) + extra_offset
    if offset:
        base = base.with_name(f"{base.name}-{offset}")
    ports = {k: _int_env(f"PHR_{k.upper()}_PORT", v + offset) for k, v in ports.items()}
    base = Path(os.environ.get("PHR_STACK_DIR", base))
    return Profile(name, base, ports, nodes, threshold)
