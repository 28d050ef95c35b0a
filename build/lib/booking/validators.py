"""Field checks shared by the public and coach forms."""

from __future__ import annotations

from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from wtforms import ValidationError


class SingleLine:
    """Refuses CR/LF (and other control characters) in a one-line field."""

    def __init__(self, message: str = "Enter this on one line") -> None:
        self.message = message

    def __call__(self, form: Any, field: Any) -> None:
        value = field.data or ""
        if any(ch in value for ch in "\r\n\x00\x0b\x0c\u2028\u2029"):
            raise ValidationError(self.message)


# C0 controls and DEL, except tab and the newlines a multi-line field may hold. Nobody types
# them; PostgreSQL refuses NUL in text outright, which would otherwise surface as a 500.
_CONTROL = {c: None for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]}


def strip_control_characters(value: str | None) -> str | None:
    """A filter for multi-line text: drops invisible control characters, keeps the rest."""
    return value.translate(_CONTROL) if isinstance(value, str) else value


def normalise_email(value: str) -> str:
    """Syntax check and normalisation only: no DNS look-ups, so tests and slow networks are fine."""
    result = validate_email(value.strip(), check_deliverability=False)
    return str(result.normalized)


class EmailAddress:
    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: Any, field: Any) -> None:
        try:
            field.data = normalise_email(field.data or "")
        except EmailNotValidError as error:
            raise ValidationError(self.message) from error


def normalise_phone(value: str, region: str = "GB") -> str:
    """UK numbers as people write them, or international with +; returns E.164."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        raise ValueError(str(error)) from error
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PhoneNumber:
    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: Any, field: Any) -> None:
        if not (field.data or "").strip():
            field.data = ""
            return
        try:
            field.data = normalise_phone(field.data)
        except ValueError as error:
            raise ValidationError(self.message) from error
