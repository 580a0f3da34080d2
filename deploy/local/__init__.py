"""PHR Exchange on one machine without Docker: the real servers of INFRA.md and our services.

- :mod:`deploy.local.profiles`: where a stack lives, its ports, N and t of its SRS nodes;
- :mod:`deploy.local.servers`: mongod, SeaweedFS and Tansu, installed from PyPI and started;
- :mod:`deploy.local.services`: our processes, their ports, keys and URLs;
- :mod:`deploy.local.processes`: pid files, spawning, stopping, waiting;
- :mod:`deploy.local.stack`: :class:`Stack`, one profile's whole deployment;
- :mod:`deploy.local.cli`: ``python -m deploy.local up|down|status`` (what make calls).
"""

from deploy.local.profiles import Profile, profile
from deploy.local.services import SERVICES, ServiceSpec, service_specs
from deploy.local.stack import Stack

#: the name the test fixtures and benchmarks used before the package
_profile = profile

__all__ = ["SERVICES", "Profile", "ServiceSpec", "Stack", "profile", "service_specs"]
