"""A registration's reference number: what a leader can quote to a coach ("PS-000123").

Derived from the lead's id, so nothing new is stored and it never changes. It tells a leader
roughly how many registrations came before theirs; the firm accepted that (an order number
does the same) over a secret-keyed code that would change if the secret key were rotated.
"""

from __future__ import annotations

import re

PREFIX = "PS"
_QUOTED = re.compile(rf"^\s*{PREFIX}\s*-?\s*0*(\d{{1,12}})\s*$", re.IGNORECASE)


def lead_reference(lead_id: int) -> str:
    return f"{PREFIX}-{lead_id:06d}"


def reference_lead_id(text: str) -> int | None:
    """The lead id in a reference as people type it ("PS-000123", "ps 123"), else None."""
    match = _QUOTED.match(text or "")
    if match is None:
        return None
    value = int(match[1])
    return value if value > 0 else None
