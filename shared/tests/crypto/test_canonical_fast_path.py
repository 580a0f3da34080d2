"""The fast path of canonical_json gives exactly the bytes of the RFC 8785 reference."""

from __future__ import annotations

import enum
import sys
from collections import OrderedDict
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from phr.crypto.canonical import MAX_SAFE_INT, canonical_json, is_plain, plain_canonical_json

_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)
_safe_ints = st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | _text
    | st.floats(allow_nan=False, allow_infinity=False)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | _text, inner, max_size=4)
    ),
    max_leaves=20,
)
#: only what the fast path takes: no floats, safe integers, ASCII keys
_plain_json = st.recursive(
    st.none() | st.booleans() | _safe_ints | _text,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127), max_size=8), inner)
    ),
    max_leaves=40,
)


@given(_json)
def test_same_bytes_as_the_reference(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=300)
@given(_plain_json)
def test_plain_values_take_the_fast_path_and_give_the_reference_bytes(value: Any) -> None:
    assert is_plain(value)
    assert plain_canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value) == rfc8785.dumps(value)


def test_control_characters_and_key_order() -> None:
    value = {"b": '\x00\x1f\t\n"\\é€😀', "a": [1, True, None], "Z": -(2**53) + 1}
    assert canonical_json(value) == rfc8785.dumps(value)


def test_every_code_point_is_escaped_as_the_reference_does() -> None:
    # All of Unicode but the surrogates, in strings of 512 code points.
    points = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    for i in range(0, len(points), 512):
        value = {"k": "".join(points[i : i + 512])}
        assert plain_canonical_json(value) == rfc8785.dumps(value), hex(ord(points[i]))


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        [0.5],
        {"a": 2**53},
        {"é": 1},  # a non-ASCII key: JCS sorts by UTF-16, not by code point
        {"\U0001f600": 1, "\uffff": 2},
    ],
)
def test_what_the_fast_path_cannot_spell_goes_to_the_reference(value: Any) -> None:
    assert not is_plain(value)
    if isinstance(value, dict) and 2**53 in value.values():
        with pytest.raises(rfc8785.IntegerDomainError):
            canonical_json(value)
    else:
        assert canonical_json(value) == rfc8785.dumps(value)


class _Colour(enum.IntEnum):
    RED = 1


class _Name(enum.StrEnum):
    A = "a"


def test_subclasses_give_the_reference_bytes() -> None:
    value = {"c": _Colour.RED, "n": _Name.A, "o": OrderedDict([("z", 1), ("a", 2)])}
    assert canonical_json(value) == rfc8785.dumps(value) == b'{"c":1,"n":"a","o":{"a":2,"z":1}}'


def test_nesting_deeper_than_orjson_takes_gives_the_reference_bytes() -> None:
    value: Any = "x"
    for _ in range(300):
        value = [value]
    assert is_plain(value)
    assert canonical_json(value) == rfc8785.dumps(value)


def test_a_lone_surrogate_is_refused_as_by_the_reference() -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        rfc8785.dumps({"a": "\ud800"})
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_json({"a": "\ud800"})
