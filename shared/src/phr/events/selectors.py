"""Group selectors of grants (``AclGranted.grantee_group``): which attributes they admit.

A selector is a small mapping such as ``{"role": "doctor", "org": "o1"}``; it admits a
caller whose KGC-signed token attributes equal every value. An empty selector, or one
naming an attribute we do not know, admits nobody (fail closed). Whether a role may use
group grants at all (staff only) is the caller's rule, not the selector's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: selector keys a group grant may use, and the token attribute each one reads
SELECTOR_KEYS: Final[Mapping[str, str]] = {
    "role": "role",
    "org": "org",
    "organisation_id": "org",
    "dept": "dept",
    "department": "dept",
}


def selector_matches(
    selector: Mapping[str, str] | None, *, role: str, org: str | None, dept: str | None
) -> bool:
    """Every selector attribute equals the caller's; empty or unknown keys match nobody."""
    if not selector:
        return False
    attributes = {"role": role, "org": org, "dept": dept}
    for key, wanted in selector.items():
        attribute = SELECTOR_KEYS.get(key)
        if attribute is None or attributes[attribute] != wanted:
            return False
    return True
