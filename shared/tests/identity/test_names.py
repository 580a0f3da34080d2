"""Display names: NFC, one line, no controls or bidirectional formatting (issue 19, L6)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from phr.api.names import DisplayName, display_name


class Named(BaseModel):
    name: DisplayName


def test_names_are_nfc_and_trimmed() -> None:
    decomposed = "Jose\u0301 Mu\u0308ller"  # combining accents
    assert display_name(f"  {decomposed} ") == "José Müller"
    assert Named(name=decomposed).name == "José Müller"
    assert display_name("محمد 李雷 👩‍⚕️") == "محمد 李雷 👩‍⚕️"  # scripts and ZWJ sequences stay


@pytest.mark.parametrize(
    "bad",
    [
        "Eve\u202eexe.txt",  # right-to-left override
        "Eve\u2066x\u2069",  # isolates
        "Eve\u200f",  # right-to-left mark
        "\x1b[31mEve\x1b[0m",  # ANSI escape
        "Eve\nAdmin",
        "Eve\u2028Admin",  # line separator
        "Eve\x00",
        "   ",
        "",
    ],
)
def test_control_and_bidi_characters_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        display_name(bad)
    with pytest.raises(ValidationError):
        Named(name=bad)
