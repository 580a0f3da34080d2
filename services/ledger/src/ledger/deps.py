"""The ledger's typed lifespan state and the annotated dependencies its routes read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from ledger.reader import LedgerReader
from ledger.sequencer import Sequencer
from phr.service.state import state_part


@dataclass(frozen=True)
class LedgerState:
    """What the ledger's lifespan yields (built by ``ledger.main``'s setup)."""

    reader: LedgerReader
    sequencer: Sequencer


ReaderDep = Annotated[LedgerReader, Depends(state_part(LedgerState, lambda s: s.reader))]
SequencerDep = Annotated[Sequencer, Depends(state_part(LedgerState, lambda s: s.sequencer))]
