"""The processes of ours in a stack: which service, which port, which key, which URLs.

The same topology as docker-compose.yml: kgc, owner-api, user-api, cloud-store, two
ledger replicas and N SRS nodes (``srs-1`` … ``srs-N``). Each has an internal URL (what
the services call) and a public one (what clients see in the KGC's signed parameters);
on one machine both are ``http://127.0.0.1:<port>`` unless ``PHR_<NAME>_INTERNAL_URL``
or ``PHR_<NAME>_PUBLIC_URL`` says otherwise (``PHR_OWNER_API_PUBLIC_URL=https://…``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from deploy.local.profiles import DEFAULT_SRS_NODES, HOST, Profile

#: the entry points clients use; compose publishes only these (the gateway is optional)
PUBLIC_SERVICES = ("kgc", "owner-api", "user-api", "ledger", "gateway")
#: the topic user-api and every SRS node write on each access (phr.events.catalog's
#: TOPIC_ACCESS). On Tansu's S3 engine producers meeting on one partition stall ~1 s,
#: so each of them writes a partition of its own: user-api 0, srs-i i (see
#: KafkaSettings.producer_partition); the stack creates the topic with that many.
ACCESS_TOPIC = "phr.access"


@dataclass(frozen=True)
class ServiceSpec:
    """One uvicorn process of ours."""

    name: str  # process name, also the log and pid file name
    module: str  # import name of the service package
    port_key: str
    env_prefix: str
    extra_env: dict[str, str] = field(default_factory=dict)
    #: whose signing key this process uses (replicas share one); default: its own
    key_name: str | None = None
    #: its own partition of ACCESS_TOPIC (and of every topic that has it); None: by key
    partition: int | None = None

    @property
    def is_srs(self) -> bool:
        return self.module == "srs"

    @property
    def is_public(self) -> bool:
        return self.name in PUBLIC_SERVICES


def srs_spec(index: int) -> ServiceSpec:
    name = f"srs-{index}"
    return ServiceSpec(name, "srs", f"srs_{index}", "SRS_", {"SRS_NODE_ID": name}, partition=index)


def access_partitions(srs_nodes: int = DEFAULT_SRS_NODES) -> int:
    """Partitions ACCESS_TOPIC needs: one for user-api, one per SRS node."""
    return srs_nodes + 1


def service_specs(srs_nodes: int = DEFAULT_SRS_NODES) -> tuple[ServiceSpec, ...]:
    """Every process of ours, with ``srs_nodes`` SRS nodes."""
    return (
        ServiceSpec("kgc", "kgc", "kgc", "KGC_"),
        ServiceSpec("owner-api", "owner_api", "owner_api", "OWNER_API_"),
        ServiceSpec("user-api", "user_api", "user_api", "USER_API_", partition=0),
        ServiceSpec("cloud-store", "cloud_store", "cloud_store", "CLOUD_STORE_"),
        ServiceSpec("ledger", "ledger", "ledger", "LEDGER_", {"LEDGER_WRITE_CUT_MARKERS": "true"}),
        # A second ledger replica reads the same topics in its own consumer group and
        # database, and signs with the same ledger key, so its chain is byte-identical.
        ServiceSpec(
            "ledger-2", "ledger", "ledger_2", "LEDGER_", {"LEDGER_GROUP_ID": "ledger-2"}, "ledger"
        ),
        *(srs_spec(i) for i in range(1, srs_nodes + 1)),
    )


#: the default topology (three SRS nodes); a stack's own is ``Stack.services``
SERVICES: tuple[ServiceSpec, ...] = service_specs()


def _env_name(spec: ServiceSpec, what: str) -> str:
    return f"PHR_{spec.name.replace('-', '_').upper()}_{what}"


def internal_url(profile: Profile, spec: ServiceSpec) -> str:
    """What other services call: ``PHR_<NAME>_INTERNAL_URL`` or its loopback address."""
    default = f"http://{HOST}:{profile.ports[spec.port_key]}"
    return os.environ.get(_env_name(spec, "INTERNAL_URL")) or default


def public_url(profile: Profile, spec: ServiceSpec) -> str:
    """What clients see in the signed parameters: ``PHR_<NAME>_PUBLIC_URL`` or the internal."""
    return os.environ.get(_env_name(spec, "PUBLIC_URL")) or internal_url(profile, spec)
