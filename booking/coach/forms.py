"""Coach area forms. Messages say what to do (GOV.UK pattern); the workflow checks the rest."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional

from ..limits import (
    COACH_NOTE_MAX,
    DETAIL_MAX,
    EMAIL_MAX,
    MAX_TIMES,
    NAME_MAX,
    SESSION_MINUTES_MAX,
    SESSION_MINUTES_MIN,
    TEXT_MAX,
    characters,
)
from ..models import FORMAT_LABELS, LeadStatus, SessionFormat
from ..passwords import MAX_LENGTH, MIN_LENGTH
from ..validators import SingleLine

FORMAT_CHOICES = [SelectChoice(f.value, FORMAT_LABELS[f]) for f in SessionFormat]
DURATION = dict(
    default=60,
    validators=[
        InputRequired("Enter the length in minutes"),
        NumberRange(
            SESSION_MINUTES_MIN,
            SESSION_MINUTES_MAX,
            f"Length must be between {SESSION_MINUTES_MIN} and {SESSION_MINUTES_MAX} minutes",
        ),
    ],
)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class NoBrowserChecks:
    """No browser pop-ups: the server checks and says so in words next to the field."""

    def render_field(self, field: Field, render_kw: dict[str, Any]) -> Markup:
        render_kw = {"required": False, "maxlength": False, **render_kw}
        return super().render_field(field, render_kw)  # type: ignore[misc]


class SignInForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    email = EmailField(
        "Email address",
        filters=[_strip],
        validators=[DataRequired("Enter your email address"), Length(max=EMAIL_MAX)],
    )
    password = PasswordField("Password", validators=[DataRequired("Enter your password")])
    next = HiddenField()


class PasswordResetRequestForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    email = EmailField(
        "Email address",
        filters=[_strip],
        validators=[DataRequired("Enter your email address"), Length(max=EMAIL_MAX)],
    )


class NewPasswordForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    password = PasswordField(
        "New password",
        validators=[
            DataRequired("Enter a new password"),
            Length(
                MIN_LENGTH,
                MAX_LENGTH,
                f"Password must be between {MIN_LENGTH} and {MAX_LENGTH} characters",
            ),
        ],
    )
    confirm = PasswordField(
        "Type the new password again",
        validators=[
            DataRequired("Type the new password again"),
            EqualTo("password", "The two passwords are not the same"),
        ],
    )


class NoteForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    body = TextAreaField(
        "Add a private note",
        filters=[_strip],
        validators=[
            DataRequired("Write the note"),
            Length(max=COACH_NOTE_MAX, message=f"Keep a note to {characters(COACH_NOTE_MAX)}"),
        ],
    )


class StatusForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    to = SelectField("Move to", choices=[SelectChoice(s.value, s.label) for s in LeadStatus])
    reason = TextAreaField("Reason (optional)", filters=[_strip], validators=[Length(max=TEXT_MAX)])


class AssignForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    coach_id = SelectField("Hand on to", choices=[])


class SlotForm(Form):
    """One proposed time. A row left completely blank is ignored."""

    class Meta(NoBrowserChecks):
        pass

    day = DateField("Date", validators=[Optional()])
    start = TimeField("Start time", validators=[Optional()])
    duration = IntegerField("Length (minutes)", **DURATION)
    format = SelectField("Format", choices=FORMAT_CHOICES)
    detail = StringField(
        "Joining link, number to call or address",
        filters=[_strip],
        validators=[
            Length(max=DETAIL_MAX, message=f"Keep this to {characters(DETAIL_MAX)}"),
            SingleLine(),
        ],
    )

    @property
    def is_blank(self) -> bool:
        return not (self.day.raw_data and self.day.raw_data[0]) and not (
            self.start.raw_data and self.start.raw_data[0]
        )

    def validate(self, extra_validators: Any = None) -> bool:
        # The unused rows carry their default length and format: nothing to check there.
        if self.is_blank:
            return True
        return super().validate(extra_validators)


class ProposeForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    slots = FieldList(FormField(SlotForm), min_entries=MAX_TIMES, max_entries=MAX_TIMES)


class AgreedTimeForm(FlaskForm):
    """A time agreed by phone or email, or a new time for a booked session."""

    class Meta(NoBrowserChecks):
        pass

    day = DateField("Date", validators=[InputRequired("Enter the date")])
    start = TimeField("Start time", validators=[InputRequired("Enter the start time")])
    duration = IntegerField("Length (minutes)", **DURATION)
    format = SelectField("Format", choices=FORMAT_CHOICES)
    detail = StringField(
        "Joining link, number to call or address",
        filters=[_strip],
        validators=[
            Length(max=DETAIL_MAX, message=f"Keep this to {characters(DETAIL_MAX)}"),
            SingleLine(),
        ],
    )


class RescheduleForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    day = DateField("New date", validators=[InputRequired("Enter the date")])
    start = TimeField("New start time", validators=[InputRequired("Enter the start time")])
    duration = IntegerField("Length (minutes)", **DURATION)


class CancelForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    reason = TextAreaField(
        "Why is it cancelled? (the leader sees this)",
        filters=[_strip],
        validators=[DataRequired("Say why the session is cancelled"), Length(max=TEXT_MAX)],
    )


def _web_address(form: Any, field: Field) -> None:
    from wtforms.validators import ValidationError

    from ..calendars import normalise_url

    try:
        normalise_url(field.data or "")
    except ValueError as problem:
        raise ValidationError(str(problem)) from None


class CalendarForm(FlaskForm):
    """Connect one of the coach's own calendars (CalDAV or an iCalendar feed)."""

    class Meta(NoBrowserChecks):
        pass

    kind = RadioField(
        "What kind of calendar is it?",
        choices=[
            SelectChoice(
                "feed",
                "A calendar address to subscribe to (Outlook, Google: a secret .ics address)",
            ),
            SelectChoice(
                "caldav", "A CalDAV calendar (Nextcloud, Apple iCloud, Fastmail and others)"
            ),
        ],
        validators=[InputRequired("Choose the kind of calendar")],
    )
    name = StringField(
        "A name for it",
        filters=[_strip],
        validators=[
            DataRequired("Give the calendar a name, like ‘Work’"),
            Length(max=NAME_MAX, message=f"Keep the name to {characters(NAME_MAX)}"),
            SingleLine(),
        ],
    )
    url = StringField(
        "Calendar address",
        filters=[_strip],
        validators=[
            DataRequired("Enter the calendar’s address"),
            Length(max=2000, message="That address is too long"),
            _web_address,
        ],
    )
    username = StringField(
        "User name (CalDAV only)",
        filters=[_strip],
        validators=[Length(max=EMAIL_MAX)],
    )
    password = PasswordField("App password (CalDAV only)", validators=[Length(max=500)])
    add_sessions = BooleanField("Add my booked sessions to this calendar (CalDAV only)")

    def validate_username(self, field: Field) -> None:
        from wtforms.validators import ValidationError

        if self.kind.data == "caldav" and not field.data:
            raise ValidationError("Enter the user name you sign in to the calendar with")

    def validate_password(self, field: Field) -> None:
        from wtforms.validators import ValidationError

        if self.kind.data == "caldav" and not field.data:
            raise ValidationError("Enter an app password made for this service")

    def error_fields(self) -> list[tuple[str, str, str]]:
        rows = []
        for field in self:
            if field.errors and field.name != "csrf_token":
                anchor = f"{field.id}-0" if field.name == "kind" else field.id
                rows.append((anchor, str(field.label.text), str(field.errors[0])))
        return rows
