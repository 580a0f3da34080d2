"""Tamper-evident ledger of every event."""
