"""The GOV.UK error summary's rows for any form: every field's first problem, in page order,
each with the id of the element its link should focus.

One walk for every form (nested ones too: the propose form's repeated times), so no page
words or links its summary its own way. Templates call it as the Jinja global `error_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Fields a person never sees: their problems are told another way (a "send it again" notice).
UNSEEN = {"CSRFTokenField", "HiddenField"}
# Options each get an id of their own (`<field id>-0`…); the summary links to the first.
OPTION_LISTS = {"RadioField", "CheckboxesField", "SelectMultipleField"}
SPAM_TRAPS = {"website"}


def anchor(field: Any) -> str:
    """The id of the element a summary link to `field` focuses."""
    return f"{field.id}-0" if field.type in OPTION_LISTS else str(field.id)


def error_rows(*forms: Any) -> list[tuple[str, str, str]]:
    """(anchor id, label, first message) for each field with a problem, in page order."""
    rows: list[tuple[str, str, str]] = []
    for form in forms:
        if form is not None:
            rows.extend(_rows(form))
    return rows


def _rows(fields: Iterable[Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for field in fields:
        if field.type in UNSEEN or field.short_name in SPAM_TRAPS:
            continue
        if field.type == "FieldList":
            for entry in field:
                rows.extend(_rows([entry]) if entry.type != "FormField" else _rows(entry))
        elif field.type == "FormField":
            rows.extend(_rows(field))
        elif field.errors:
            rows.append((anchor(field), str(field.label.text), str(field.errors[0])))
    return rows
