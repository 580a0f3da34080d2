"""App factory: `uvicorn ledger.main:create_app --factory`. Wiring only."""

from __future__ import annotations

from fastapi import FastAPI

import ledger
from ledger import api
from ledger.deps import LedgerState
from ledger.intake import Intake
from ledger.keys import StaticProducerKeys
from ledger.reader import LedgerReader
from ledger.relay import deadletter_hook, run_relay, write_cut_markers
from ledger.sequencer import Sequencer
from ledger.settings import Settings
from ledger.signer import Ed25519Signer
from ledger.store import MongoStore
from ledger.stream import ensure_sequence_topic, run_sequence_stream
from phr.service.app import create_service_app
from phr.service.runtime import ServiceRuntime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def setup(runtime: ServiceRuntime) -> LedgerState:
        store = MongoStore(runtime.db)
        await store.ensure_indexes()
        signer = Ed25519Signer(runtime.signing_key)
        keys = (
            StaticProducerKeys.from_registry(settings.registry_file)
            if settings.registry_file
            else StaticProducerKeys()
        )
        keys.add(signer.public, runtime.name)
        intake = Intake(keys.as_table(), signer.public.fingerprint(), settings.verify_workers)
        runtime.stack.callback(intake.close)
        sequencer = Sequencer(store, signer, settings.block_max_entries)
        await ensure_sequence_topic(settings.kafka, settings.sequence_topic)
        on_applied = deadletter_hook(runtime, settings)
        runtime.background(
            "sequencer",
            lambda: run_sequence_stream(
                settings.kafka,
                settings.sequence_topic,
                sequencer,
                intake,
                on_applied,
                settings.fetch_max_records,
            ),
        )
        if settings.relays:
            runtime.background("relay", lambda: run_relay(runtime, settings))
        if settings.write_cut_markers:
            runtime.background(
                "cut-markers", lambda: write_cut_markers(runtime, settings, sequencer)
            )
        return LedgerState(reader=LedgerReader(store, signer, settings.origin), sequencer=sequencer)

    return create_service_app(
        name="ledger",
        package="ledger",
        settings=settings,
        routers=[api.router],
        setup=setup,
        auth=True,
        description=ledger.__doc__ or "",
    )
