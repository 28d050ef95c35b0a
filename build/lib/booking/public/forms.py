"""The interest form. Messages follow the GOV.UK pattern: say what to do, not what went wrong."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..models import DIMENSION_LABELS, FORMAT_LABELS, Dimension, SessionFormat
from ..validators import EmailAddress, PhoneNumber, SingleLine, strip_control_characters


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class InterestForm(FlaskForm):
    class Meta:
        def render_field(self, field, render_kw):
            # No browser-native checks: `required` would pop up the browser's own bubble instead
            # of our error summary, and `maxlength` silently cuts off pasted text. The server
            # checks both and says so in words (GOV.UK pattern).
            render_kw = {"required": False, "maxlength": False, **render_kw}
            return super().render_field(field, render_kw)  # type: ignore[misc]

    full_name = StringField(
        "Full name",
        filters=[_strip],
        validators=[
            DataRequired("Enter your full name"),
            Length(max=200, message="Full name must be 200 characters or fewer"),
            SingleLine("Enter your full name on one line"),
        ],
    )
    email = StringField(
        "Work email address",
        filters=[_strip],
        validators=[
            DataRequired("Enter your work email address"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            SingleLine("Enter your email address on one line"),
            EmailAddress("Enter an email address in the correct format, like name@nhs.net"),
        ],
    )
    phone = StringField(
        "Phone number (optional)",
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=32, message="Phone number must be 32 characters or fewer"),
            SingleLine("Enter your phone number on one line"),
            PhoneNumber(
                "Enter a phone number, like 01632 960 001, 07700 900 982 or +44 808 157 0192"
            ),
        ],
    )
    organisation = StringField(
        "Organisation",
        filters=[_strip],
        validators=[
            DataRequired("Enter your organisation"),
            Length(max=200, message="Organisation must be 200 characters or fewer"),
            SingleLine("Enter your organisation on one line"),
        ],
    )
    role = StringField(
        "Job title or role",
        filters=[_strip],
        validators=[
            DataRequired("Enter your job title or role"),
            Length(max=200, message="Job title or role must be 200 characters or fewer"),
            SingleLine("Enter your job title or role on one line"),
        ],
    )
    dimensions = CheckboxesField(
        "Which dimensions would you like support with?",
        choices=[SelectChoice(d.value, DIMENSION_LABELS[d]) for d in Dimension],
        validators=[DataRequired("Select at least one dimension, or ‘Not sure yet’")],
    )
    help_text = TextAreaField(
        "What would you like help with? (optional)",
        filters=[strip_control_characters, _strip],
        validators=[
            Optional(),
            Length(
                max=2000, message="What you would like help with must be 2,000 characters or fewer"
            ),
        ],
    )
    preferred_format = RadioField(
        "How would you prefer to meet?",
        choices=[SelectChoice(f.value, FORMAT_LABELS[f]) for f in SessionFormat],
        validators=[InputRequired("Select how you would prefer to meet")],
    )
    availability = StringField(
        "When are you usually free? (optional)",
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=500, message="When you are usually free must be 500 characters or fewer"),
            SingleLine("Enter when you are usually free on one line"),
        ],
    )
    consent = BooleanField(
        "I agree to be contacted about this request",
        validators=[
            DataRequired("Tick the box to agree that we may contact you about this request")
        ],
    )
    # Spam traps. `website` is hidden from people and left empty by them; `form_token` is signed
    # and timed when the page is served, and doubles as the one-time token of this submission.
    website = StringField("Leave this field empty", validators=[Optional()])
    form_token = HiddenField()

    def error_fields(self) -> list[tuple[str, str, str]]:
        """(anchor id, label, first message) for the error summary, in page order."""
        rows = []
        for field in self:
            if field.errors and field.name not in {"csrf_token", "form_token", "website"}:
                anchor = field.id
                if field.type in {"RadioField", "CheckboxesField"}:
                    anchor = f"{field.id}-0"
                rows.append((anchor, str(field.label.text), str(field.errors[0])))
        return rows
