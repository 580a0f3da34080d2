"""Search keywords of FHIR resources: coded concepts and words of their display texts.

Codes become ``<system>:<code>`` with a short system name (``loinc:8302-2``,
``snomed:44054006``, ``rxnorm:860975``, ``icd10:E11.9``, ``cvx:140``); codes of
other systems become ``<system-url>|<code>``. Words come from ``display`` and
CodeableConcept ``text`` strings, normalised (NFKC, case-folded), at least 3
characters, not all digits, not a stop word. A data user builds a query keyword the
same way (:func:`code_keyword`, :func:`words`) before making a trapdoor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, Final

from phr.crypto.search import normalise_keyword

CODE_SYSTEMS: Final = {
    "http://loinc.org": "loinc",
    "http://snomed.info/sct": "snomed",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "rxnorm",
    "http://hl7.org/fhir/sid/icd-10": "icd10",
    "http://hl7.org/fhir/sid/icd-10-cm": "icd10",
    "http://hl7.org/fhir/sid/cvx": "cvx",
}
STOP_WORDS: Final = frozenset(
    "and are but for from has not of the this that was were with without".split()
)
_WORD = re.compile(r"[^\W_]+")


def code_keyword(system: str, code: str) -> str:
    short = CODE_SYSTEMS.get(system)
    return normalise_keyword(f"{short}:{code}" if short else f"{system}|{code}")


def words(text: str) -> Iterator[str]:
    for word in _WORD.findall(normalise_keyword(text)):
        if len(word) >= 3 and not word.isdigit() and word not in STOP_WORDS:
            yield word


def _collect(root: Any, codes: set[tuple[str, str]], texts: set[str]) -> None:
    """Gather the (system, code) pairs and the display/text strings under ``root``.

    Iterative (no recursion limit) and normalisation-free: a 2 MB Bundle repeats the
    same codes and displays many times, so :func:`extract_keywords` normalises each
    distinct one once. Attachments (``data``) and narrative XHTML (``div``) are skipped.
    """
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if isinstance(node, dict):
            system = node.get("system")
            if system is not None:
                code = node.get("code")
                if isinstance(system, str) and isinstance(code, str):
                    codes.add((system, code))
            for key, value in node.items():
                kind = type(value)  # exact types first: the common case, and cheap
                if kind is str or (
                    kind is not dict and kind is not list and isinstance(value, str)
                ):
                    if key == "display" or key == "text":
                        texts.add(value)
                elif (kind is dict or kind is list or isinstance(value, dict | list)) and (
                    key != "data" and key != "div"
                ):
                    push(value)
        elif isinstance(node, list):
            for item in node:
                if isinstance(item, dict | list):
                    push(item)


def extract_keywords(resources: Iterable[dict[str, Any]]) -> set[str]:
    """Every keyword of the given resources (codes and words), normalised."""
    codes: set[tuple[str, str]] = set()
    texts: set[str] = set()
    for resource in resources:
        _collect(resource, codes, texts)
    out = {code_keyword(system, code) for system, code in codes}
    for text in texts:
        out.update(words(text))
    return out


def payload_keywords(payload: dict[str, Any]) -> set[str]:
    """Keywords of a segment payload (see ``phr.fhir.split``)."""
    return extract_keywords(e["entry"]["resource"] for e in payload["entries"])
