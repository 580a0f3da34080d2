"""docs/operations.md's generated sections match the Settings classes and the bench report."""

from __future__ import annotations

import re
from pathlib import Path

from deploy import settings_doc

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"


def test_generated_sections_are_fresh() -> None:
    text = DOC.read_text()
    assert settings_doc.render(text) == text, "docs/operations.md is stale: run `make docs`"


def test_every_setting_has_a_default_and_a_meaning() -> None:
    rows = [line for line in settings_doc.settings_section().splitlines() if line.startswith("| `")]
    assert len(rows) > 60
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert len(cells) == 4, row
        variable, _type, default, meaning = cells
        assert default and meaning, f"{variable} has no default or no meaning (a #: comment)"


def test_every_required_setting_is_marked() -> None:
    section = settings_doc.settings_section()
    for service in ("KGC_MONGO__URL", "SRS_X25519_KEY_FILE", "LEDGER_GROUP_ID"):
        assert f"`{service}`" in section
    assert re.search(r"`SRS_NODE_ID` \| str \| `srs-1`", section)


def test_stale_text_is_noticed() -> None:
    text = DOC.read_text().replace("`KGC_THRESHOLD`", "`KGC_THRESHOLD_OLD`")
    assert settings_doc.render(text) != text
    assert settings_doc.main(["--check"]) == 0
