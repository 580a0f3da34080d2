"""Who may produce which event: an envelope's source and signature, checked by the registry.

Every consumer that acts on another service's events passes a
:func:`producer_verifier` as the consumer's ``verify`` hook, with its own rules (event
type -> the process names allowed as ``source``). The key is the registry's
``ed25519_public`` of that source (``phr.service.auth.issuer_keys``), so an event signed
by anyone else, or claiming another source, never reaches a handler::

    rules = {"acl.granted": OWNER_API, "access.breakglass": srs_node_names(registry)}
    runtime.consume(topics, handler, verify=producer_verifier(issuer_keys(registry), rules))

Types absent from the rules pass unverified: the consumer's ``types`` filter skips them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Final

from phr.crypto.signing import VerifyKey
from phr.events.envelope import Envelope, EnvelopeInvalid
from phr.service.registry import Registry

OWNER_API: Final = "owner-api"
KGC: Final = "kgc"
USER_API: Final = "user-api"

#: event type -> the one source (or the set of sources) allowed to produce it
ProducerRules = Mapping[str, str | Collection[str]]


def srs_node_names(registry: Registry | None) -> frozenset[str]:
    """The SRS nodes of the deployment (each signs its own access events)."""
    return frozenset(registry.srs_nodes()) if registry is not None else frozenset()


def allowed_sources(rules: ProducerRules, type: str) -> frozenset[str] | None:
    """The sources ``rules`` allow for ``type``; None if the rules do not cover it."""
    allowed = rules.get(type)
    if allowed is None:
        return None
    return frozenset({allowed}) if isinstance(allowed, str) else frozenset(allowed)


def producer_verifier(
    keys: Mapping[str, VerifyKey], rules: ProducerRules
) -> Callable[[Envelope], Awaitable[None]]:
    """A consumer ``verify`` hook: an allowed producer, and its signature holds.

    Raises :class:`EnvelopeInvalid` (the consumer logs, counts and skips the event) for
    a source the rules do not allow, a source without a known key, or a bad signature.
    """

    async def verify(event: Envelope) -> None:
        allowed = allowed_sources(rules, event.type)
        if allowed is None:
            return  # not ours: the consumer skips it unapplied
        if event.source not in allowed:
            raise EnvelopeInvalid(
                f"{event.type} from {event.source!r}, only {sorted(allowed)} may produce it"
            )
        key = keys.get(event.source)
        if key is None:
            raise EnvelopeInvalid(f"no public key known for {event.source}")
        event.verify(key)

    return verify
