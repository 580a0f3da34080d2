"""Display names people and organisations give themselves: NFC, printable, one line.

A name is shown in other people's terminals and pages, so it may not carry control
characters (ANSI escapes, newlines), bidirectional overrides or isolates (U+202E makes
"exe.txt" read backwards), line or paragraph separators, or lone surrogates. It is
normalised to NFC, so one name has one spelling (issue 19, L6).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Final

from pydantic import AfterValidator, Field

#: the bidirectional formatting characters of Unicode's UAX #9 (embeddings, overrides,
#: isolates, marks)
BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
#: general categories refused: controls, surrogates, line and paragraph separators
REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})
MAX_LENGTH: Final = 128


def display_name(text: str) -> str:
    """``text`` in NFC without surrounding spaces; ValueError if it is empty or holds a
    refused character (named by its code point)."""
    name = unicodedata.normalize("NFC", text).strip()
    if not name:
        raise ValueError("a name may not be empty")
    for ch in name:
        if ch in BIDI_CONTROLS or unicodedata.category(ch) in REFUSED_CATEGORIES:
            raise ValueError(f"a name may not contain U+{ord(ch):04X}")
    return name


DisplayName = Annotated[
    str, Field(min_length=1, max_length=MAX_LENGTH), AfterValidator(display_name)
]
