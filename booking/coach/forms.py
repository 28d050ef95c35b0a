"""Coach area forms. Messages say what to do (GOV.UK pattern); the workflow checks the rest."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
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
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from ..availability import ExtraTime, TimeRange
from ..limits import (
    COACH_BIO_MAX,
    COACH_NOTE_MAX,
    DETAIL_MAX,
    EMAIL_MAX,
    MAX_TIMES,
    NAME_MAX,
    PHOTO_UPLOAD_MAX_BYTES,
    SESSION_MINUTES_MAX,
    SESSION_MINUTES_MIN,
    SUBJECT_MAX,
    TEXT_MAX,
    characters,
)
from ..models import FORMAT_LABELS, LeadStatus, SessionFormat
from ..passwords import MAX_LENGTH, MIN_LENGTH
from ..photos import Photo, PhotoProblem, prepare_photo
from ..validators import EmailAddress, SingleLine, strip_control_characters

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


class Day(DateField):
    """A date, refused in words a person understands (the browser's date box sends ISO)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError("Enter a real date, like 2027-03-14") from error


class StartTime(TimeField):
    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError("Enter a start time in 24-hour format, like 09:30") from error


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
        validators=[
            DataRequired("Enter your email address"),
            Length(
                max=EMAIL_MAX, message=f"Email address must be {characters(EMAIL_MAX)} or fewer"
            ),
            EmailAddress("Enter an email address in the correct format, like name@example.org"),
        ],
    )


def _new_password(length_message: str) -> PasswordField:
    return PasswordField(
        "New password",
        validators=[
            DataRequired("Enter a new password"),
            Length(MIN_LENGTH, MAX_LENGTH, length_message),
        ],
    )


def _new_password_again(mismatch_message: str) -> PasswordField:
    return PasswordField(
        "Type the new password again",
        validators=[
            DataRequired("Type the new password again"),
            EqualTo("password", mismatch_message),
        ],
    )


class NewPasswordForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    password = _new_password(f"Password must be between {MIN_LENGTH} and {MAX_LENGTH} characters")
    confirm = _new_password_again("The two passwords are not the same")


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


class LeaderMessageForm(FlaskForm):
    """A short email to the leader from the lead's page (replies reach the coach)."""

    class Meta(NoBrowserChecks):
        pass

    subject = StringField(
        "Subject (optional)",
        filters=[_strip],
        validators=[
            SingleLine(),
            Length(max=SUBJECT_MAX, message=f"Keep the subject to {characters(SUBJECT_MAX)}"),
        ],
    )
    body = TextAreaField(
        "Message",
        filters=[strip_control_characters, _strip],
        validators=[
            DataRequired("Write the message to the leader"),
            Length(max=TEXT_MAX, message=f"Keep the message to {characters(TEXT_MAX)}"),
        ],
    )


NOTIFICATION_CHOICES = [
    SelectChoice("immediate", "An email each time something happens"),
    SelectChoice("digest", "One email a day listing what happened (a daily digest)"),
]


class EmailPreferencesForm(FlaskForm):
    """How a coach hears about their leads: one email per event, or a daily digest."""

    class Meta(NoBrowserChecks):
        pass

    mode = RadioField(
        "How do you want to hear about your leads?",
        choices=NOTIFICATION_CHOICES,
        validators=[InputRequired("Choose how you want to hear about your leads")],
    )


class StatusForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    to = SelectField("Move to", choices=[SelectChoice(s.value, s.label) for s in LeadStatus])
    reason = TextAreaField(
        "Reason (optional)",
        filters=[_strip],
        validators=[Length(max=TEXT_MAX, message=f"Keep the reason to {characters(TEXT_MAX)}")],
    )


class AssignForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    coach_id = SelectField("Hand on to", choices=[])


class SlotForm(Form):
    """One proposed time. A row left completely blank is ignored."""

    class Meta(NoBrowserChecks):
        pass

    day = Day("Date", validators=[Optional()])
    start = StartTime("Start time", validators=[Optional()])
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

    day = Day("Agreed date", validators=[InputRequired("Enter the date")])
    start = StartTime("Agreed start time", validators=[InputRequired("Enter the start time")])
    duration = IntegerField("Agreed length (minutes)", **DURATION)
    format = SelectField("Agreed format", choices=FORMAT_CHOICES)
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

    day = Day("New date", validators=[InputRequired("Enter the date")])
    start = StartTime("New start time", validators=[InputRequired("Enter the start time")])
    duration = IntegerField("Length (minutes)", **DURATION)


class CancelForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    reason = TextAreaField(
        "Why is it cancelled? (the leader sees this)",
        filters=[_strip],
        validators=[
            DataRequired("Say why the session is cancelled"),
            Length(max=TEXT_MAX, message=f"Keep the reason to {characters(TEXT_MAX)}"),
        ],
    )


# ----- people: an admin's coach accounts, a coach's own password and profile ----------------


class WorkflowErrors:
    """For forms whose problems the workflow finds too (an address already taken, a wrong
    current password): `add_error` shows one at its field, and so in the error summary."""

    def add_error(self, field_name: str, message: str) -> None:
        """A problem found after the form's own checks (the workflow's), shown at its field."""
        getattr(self, field_name).errors = [*getattr(self, field_name).errors, message]


def _one_line(value: str | None) -> str | None:
    return " ".join(value.split()) if isinstance(value, str) else value


def _lines(value: str | None) -> str | None:
    # Browsers send line breaks as CRLF: count each as one character, as the person sees it.
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else value


class AddCoachForm(WorkflowErrors, FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    name = StringField(
        "Full name",
        filters=[_one_line],
        validators=[
            DataRequired("Enter the coach's full name"),
            Length(max=NAME_MAX, message=f"Keep the name to {characters(NAME_MAX)}"),
        ],
    )
    email = EmailField(
        "Email address",
        filters=[_strip],
        validators=[
            DataRequired("Enter the coach's email address"),
            Length(max=EMAIL_MAX, message=f"Keep the email address to {characters(EMAIL_MAX)}"),
        ],
    )
    role = RadioField(
        "Role",
        choices=[
            SelectChoice("coach", "Coach: works leads"),
            SelectChoice("admin", "Admin: works leads, and manages coach accounts"),
        ],
        validators=[InputRequired("Choose the coach's role")],
    )


class ChangePasswordForm(WorkflowErrors, FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    current = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password")]
    )
    password = _new_password(
        f"The new password must be between {MIN_LENGTH} and {MAX_LENGTH} characters"
    )
    confirm = _new_password_again("The two new passwords are not the same")


class ProfileForm(WorkflowErrors, FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    shown_name = StringField(
        "Your name as leaders see it",
        filters=[_one_line],
        validators=[Length(max=NAME_MAX, message=f"Keep the name to {characters(NAME_MAX)}")],
    )
    bio = TextAreaField(
        "About you",
        filters=[_lines],
        validators=[
            Length(max=COACH_BIO_MAX, message=f"Keep what you write to {characters(COACH_BIO_MAX)}")
        ],
    )
    photo = FileField("Photo (optional)")
    remove_photo = BooleanField("Remove my photo")

    prepared_photo: Photo | None = None

    def validate_photo(self, field: FileField) -> None:
        upload = field.data
        if upload is None or not getattr(upload, "filename", ""):
            return  # no file chosen: the photo stays as it is
        try:
            # One byte over the limit is enough to know it is too big.
            self.prepared_photo = prepare_photo(upload.read(PHOTO_UPLOAD_MAX_BYTES + 1))
        except PhotoProblem as problem:
            raise ValidationError(str(problem)) from problem


class SetPasswordForm(WorkflowErrors, NewPasswordForm):
    """A new coach's first password, from the link an admin's "add a coach" emailed."""


class SessionNoteForm(FlaskForm):
    """A held session's private notes and agreed actions (journey.py)."""

    class Meta(NoBrowserChecks):
        pass

    notes = TextAreaField(
        "Private notes (only coaches see these)",
        filters=[_strip],
        validators=[Length(max=TEXT_MAX, message=f"Keep the notes to {characters(TEXT_MAX)}")],
    )
    actions = TextAreaField(
        "Actions agreed",
        filters=[_strip],
        validators=[Length(max=TEXT_MAX, message=f"Keep the actions to {characters(TEXT_MAX)}")],
    )
    send_actions = BooleanField("Email the actions to the leader now")


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


# ----- the coach's hours (/coach/availability) ------------------------------------------

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_ranges(text: str) -> list[TimeRange]:
    """ "09:00-12:30, 14:00-17:00" → ranges; ValueError with words for the coach."""
    ranges = []
    for part in text.replace(";", ",").split(","):
        part = part.strip().replace("–", "-").replace(" to ", "-")
        if not part:
            continue
        if part.count("-") != 1:
            raise ValueError("Write each range as start-end, like 09:00-12:30")
        start_text, end_text = (p.strip() for p in part.split("-"))
        try:
            start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
        except ValueError:
            raise ValueError(f"“{part}” is not a time range like 09:00-12:30") from None
        if end <= start:
            raise ValueError(f"“{part}” ends before it starts")
        ranges.append(TimeRange(start.replace(second=0), end.replace(second=0)))
    return ranges


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"“{text.strip()}” is not a date like 2026-12-24") from None


class AvailabilityForm(FlaskForm):
    class Meta(NoBrowserChecks):
        pass

    session_minutes = IntegerField(
        "Session length in minutes",
        default=60,
        validators=[
            InputRequired("Enter the session length in minutes"),
            NumberRange(
                SESSION_MINUTES_MIN,
                SESSION_MINUTES_MAX,
                f"Session length must be between {SESSION_MINUTES_MIN} and "
                f"{SESSION_MINUTES_MAX} minutes",
            ),
        ],
    )
    buffer_minutes = IntegerField(
        "Break between sessions in minutes",
        default=15,
        validators=[
            InputRequired("Enter the break between sessions in minutes (0 for none)"),
            NumberRange(0, 240, "The break must be between 0 and 240 minutes"),
        ],
    )
    notice_working_days = IntegerField(
        "Minimum notice in working days",
        default=1,
        validators=[
            InputRequired("Enter the minimum notice in working days (0 for none)"),
            NumberRange(0, 20, "Minimum notice must be between 0 and 20 working days"),
        ],
    )
    horizon_days = IntegerField(
        "How far ahead leaders may book, in days",
        default=42,
        validators=[
            InputRequired("Enter how many days ahead leaders may book"),
            NumberRange(1, 365, "How far ahead must be between 1 and 365 days"),
        ],
    )
    format = SelectField("How sessions take place", choices=FORMAT_CHOICES, default="video")
    join_detail = StringField(
        "Joining link, phone number or address",
        filters=[_strip],
        validators=[Length(max=DETAIL_MAX, message=f"Keep it to {DETAIL_MAX} characters")],
    )
    monday = StringField("Monday", filters=[_strip])
    tuesday = StringField("Tuesday", filters=[_strip])
    wednesday = StringField("Wednesday", filters=[_strip])
    thursday = StringField("Thursday", filters=[_strip])
    friday = StringField("Friday", filters=[_strip])
    saturday = StringField("Saturday", filters=[_strip])
    sunday = StringField("Sunday", filters=[_strip])
    days_off = TextAreaField("Days off", filters=[_strip])
    extra = TextAreaField("Extra times", filters=[_strip])

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        self.weekly: dict[int, list[TimeRange]] = {}
        for index, name in enumerate(WEEKDAY_NAMES):
            field = self[name]
            try:
                ranges = parse_ranges(field.data or "")
            except ValueError as error:
                field.errors = [f"{field.label.text}: {error}"]
                ok = False
                continue
            if ranges:
                self.weekly[index] = ranges
        self.off_days: list[date] = []
        try:
            for line in (self.days_off.data or "").splitlines():
                if line.strip():
                    self.off_days.append(_parse_day(line))
        except ValueError as error:
            self.days_off.errors = [f"Days off: {error}"]
            ok = False
        self.extra_times: list[ExtraTime] = []
        try:
            for line in (self.extra.data or "").splitlines():
                if not line.strip():
                    continue
                day_text, _, ranges_text = line.strip().partition(" ")
                day = _parse_day(day_text)
                ranges = parse_ranges(ranges_text)
                if not ranges:
                    raise ValueError(f"give a time range after {day_text}, like 10:00-12:00")
                self.extra_times.extend(ExtraTime(day, r) for r in ranges)
        except ValueError as error:
            self.extra.errors = [f"Extra times: {error}"]
            ok = False
        if ok and (self.weekly or self.extra_times) and not self.join_detail.data:
            self.join_detail.errors = [
                "Enter the joining link, phone number or address for sessions leaders book"
            ]
            ok = False
        return ok
