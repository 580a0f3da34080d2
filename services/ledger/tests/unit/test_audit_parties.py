"""Which events of a patient's trail a staff member may see: those naming him."""

from __future__ import annotations

from ledger.api import names


def test_an_event_names_its_requester_grantee_uploader_or_delegate() -> None:
    for field in ("requester_id", "grantee_user_id", "uploaded_by", "delegate_user_id"):
        assert names({"type": "x", "data": {field: "u_doc"}}, "u_doc")
    assert not names({"type": "access.granted", "data": {"requester_id": "u_other"}}, "u_doc")
    assert not names({"type": "acl.granted", "data": {"granted_by": "u_doc"}}, "u_doc")
    assert not names({"type": "x", "data": None}, "u_doc")
