"""Trapdoors for a data user's query: codes (``loinc:8302-2``) and free-text words."""

from __future__ import annotations

from collections.abc import Iterable

from phr.crypto.search import trapdoor
from phr.fhir.keywords import code_keyword, words


def trapdoors_for(search_key: bytes, terms: Iterable[str]) -> dict[str, str]:
    """Query term -> trapdoor. ``system|code`` pairs are coded keywords; other terms are words.

    A term like ``loinc:8302-2`` is used as is; ``http://loinc.org|8302-2`` maps to the
    same keyword; free text yields one trapdoor per word (keyed ``term/word``).
    """
    out: dict[str, str] = {}
    for term in terms:
        if "|" in term:
            system, _, code = term.partition("|")
            out[term] = trapdoor(search_key, code_keyword(system, code))
        elif ":" in term and " " not in term.strip():
            out[term] = trapdoor(search_key, term)
        else:
            for word in words(term):
                out[f"{term}/{word}"] = trapdoor(search_key, word)
    return out
