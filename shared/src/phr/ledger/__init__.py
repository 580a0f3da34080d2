"""The ledger's public, verifiable formats: Merkle proofs, block headers, checkpoints.

Shared by the ledger service (which produces them) and every verifier (SDK, CLI, web
page), which needs nothing but the ledger's Ed25519 public key.
"""
