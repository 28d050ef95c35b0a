"""Field checks shared by the public and coach forms."""

from __future__ import annotations

from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from markupsafe import Markup
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


# Our mail goes out without SMTPUTF8, so letters beyond a-z before the @ cannot be delivered.
ASCII_LOCAL_PART_MESSAGE = (
    "Use an email address with only the letters a to z, numbers and . _ - + before the @"
)


def normalise_email(value: str) -> str:
    """Syntax check and normalisation only: no DNS look-ups, so tests and slow networks are fine.

    Returns the address as mail can be sent to it: an international domain in its ASCII (xn--)
    form. Letters beyond a-z before the @ are refused (EmailNotValidError): no mail server on
    the way is required to accept them, and ours does not.
    """
    result = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    return str(result.ascii_email)


def has_non_ascii_local_part(value: str) -> bool:
    local, _, _ = value.strip().rpartition("@")
    return not local.isascii()


class EmailAddress:
    def __init__(self, message: str, non_ascii_message: str = ASCII_LOCAL_PART_MESSAGE) -> None:
        self.message = message
        self.non_ascii_message = non_ascii_message

    def __call__(self, form: Any, field: Any) -> None:
        try:
            field.data = normalise_email(field.data or "")
        except EmailNotValidError as error:
            if has_non_ascii_local_part(field.data or ""):
                raise ValidationError(self.non_ascii_message) from error
            raise ValidationError(self.message) from error


def normalise_phone(value: str, region: str = "GB") -> str:
    """UK numbers as people write them, or international with +; returns E.164.

    Any *possible* number is accepted (the right length for its country), not only numbers the
    library knows to be allocated: its metadata lags new ranges and refuses Ofcom's drama ranges
    (07700 900xxx, 01632 960xxx), which are the examples our own hint shows. A number that is
    only possible as a local number (no area code: a coach could not call it) is refused."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        raise ValueError(str(error)) from error
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise ValueError("not a possible number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(value: str | None, region: str = "GB") -> str:
    """A stored E.164 number as a coach reads it: national format for UK numbers
    (07700 900982), international for the rest (+33 1 42 68 53 00)."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(number) == region
        or number.country_code == phonenumbers.country_code_for_region(region)
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def phone_link(value: str | None) -> Markup:
    """The number as a tel: link (E.164 in the link, national format shown)."""
    if not value:
        return Markup("")
    try:
        target = normalise_phone(value)
    except ValueError:
        target = value
    return Markup('<a href="tel:{}">{}</a>').format(target, display_phone(value))


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
