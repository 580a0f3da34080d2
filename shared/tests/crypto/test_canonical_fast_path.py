"""The fast path of canonical_json gives exactly the bytes of the RFC 8785 reference."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from phr.crypto.canonical import canonical_json

_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)
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


@given(_json)
def test_same_bytes_as_the_reference(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_control_characters_and_key_order() -> None:
    value = {"b": '\x00\x1f\t\n"\\é€😀', "a": [1, True, None], "Z": -(2**53) + 1}
    assert canonical_json(value) == rfc8785.dumps(value)
