"""FastAPI dependencies of the ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ledger.reader import LedgerReader
from ledger.sequencer import Sequencer


def get_reader(request: Request) -> LedgerReader:
    reader: LedgerReader = request.state.ledger_reader
    return reader


def get_sequencer(request: Request) -> Sequencer:
    sequencer: Sequencer = request.state.sequencer
    return sequencer


ReaderDep = Annotated[LedgerReader, Depends(get_reader)]
SequencerDep = Annotated[Sequencer, Depends(get_sequencer)]
