"""FastAPI dependencies of the ledger."""

from __future__ import annotations

from typing import Annotated

from ledger.reader import LedgerReader
from ledger.sequencer import Sequencer
from phr.service.deps import from_state

ReaderDep = Annotated[LedgerReader, from_state("ledger_reader")]
SequencerDep = Annotated[Sequencer, from_state("sequencer")]
