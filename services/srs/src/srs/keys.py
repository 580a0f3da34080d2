"""This node's X25519 secret (kfrags are sealed to its public key), loaded once at start."""

from __future__ import annotations

from phr.crypto.seal import NodeSecretKey
from srs.settings import Settings


def load_node_secret(settings: Settings) -> NodeSecretKey:
    """From ``SRS_X25519_KEY_FILE`` (hex); a fresh key only where ephemeral keys are allowed.

    A fresh key makes every kfrag sealed to the registry's key unusable here, so it is
    for tests and experiments only.
    """
    if settings.x25519_key_file is not None:
        return NodeSecretKey(bytes.fromhex(settings.x25519_key_file.read_text().strip()))
    if settings.allow_ephemeral_key:
        return NodeSecretKey.generate()
    raise ValueError(
        f"{settings.node_id}: no X25519 key: set SRS_X25519_KEY_FILE "
        "(or SRS_ALLOW_EPHEMERAL_KEY=true outside production)"
    )
