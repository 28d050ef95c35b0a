"""Signed, purpose-specific, expiring tokens for the links in emails (no account needed).

A token made for one purpose (say, choosing a time) is refused for any other (say, withdrawing),
because each purpose signs with its own salt. Tokens carry ids only, never personal data.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

# purpose -> how long a link stays good, in seconds
PURPOSES: dict[str, int] = {
    "withdraw": 365 * 24 * 3600,
    "choose-time": 30 * 24 * 3600,
    "rsvp": 180 * 24 * 3600,
    # The leader's "your session" page: ask for a different time, or cancel.
    "leader-session": 180 * 24 * 3600,
    "questionnaire": 180 * 24 * 3600,
    "password-reset": 3600,
    "register-form": 7 * 24 * 3600,
}


class TokenError(Exception):
    """A link that cannot be used; `reason` is 'expired' or 'invalid'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"booking.{purpose}")


def make_token(purpose: str, payload: Any) -> str:
    return str(_serializer(purpose).dumps(payload))


def read_token(purpose: str, token: str, max_age: int | None = None) -> Any:
    try:
        return _serializer(purpose).loads(token, max_age=max_age or PURPOSES[purpose])
    except SignatureExpired as error:
        raise TokenError("expired") from error
    except BadSignature as error:
        raise TokenError("invalid") from error
