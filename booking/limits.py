"""Shared limits: how long things may be and how many there may be, in one place.

Forms, the workflow, the models and the templates (as the Jinja global `limits`) all read
these, so a limit and the words that state it cannot drift apart.
"""

from __future__ import annotations

# Free text a person writes: what they would like help with, a note to their coach, a reason.
TEXT_MAX = 2000
# A coach's private note on a lead.
COACH_NOTE_MAX = 5000
# RFC 5321's limit on an address in a mail path.
EMAIL_MAX = 254
# A person's name, their organisation, their job title.
NAME_MAX = 200
PHONE_MAX = 32
# One-line details: when the leader is usually free; a joining link, number or address.
DETAIL_MAX = 500
# The subject of a coach's message to a leader (one line).
SUBJECT_MAX = 150
# The coach's search box on the lead list.
SEARCH_MAX = 100

# Times a coach offers in one proposal.
MAX_TIMES = 5
# How long a session may last, in minutes.
SESSION_MINUTES_MIN, SESSION_MINUTES_MAX = 15, 480


def characters(limit: int) -> str:
    """'2,000 characters', as the pages and messages state a limit."""
    return f"{limit:,} characters"


# A coach's profile, as leaders see it: a few lines about themselves.
COACH_BIO_MAX = 600
# A profile photo as uploaded (JPEG, PNG or WebP), and the most pixels it may claim to have:
# a small file can declare a huge image (a "decompression bomb") that would fill the memory.
PHOTO_UPLOAD_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_PIXELS = 40_000_000
# The stored photo: a square JPEG this many pixels wide.
PHOTO_SIZE = 256
