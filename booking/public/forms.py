"""The public pages' forms: the interest form, and the forms behind the links in emails
(choosing a time, the leader's session page, withdrawing, answering an invitation, the reflection).

Input checks (required, lengths, one of the offered choices) live here once; the workflow keeps
the domain rules. Messages follow the GOV.UK pattern: say what to do, not what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..inputs import parse_id
from ..limits import DETAIL_MAX, EMAIL_MAX, NAME_MAX, PHONE_MAX, TEXT_MAX, characters
from ..models import DIMENSION_LABELS, FORMAT_LABELS, Dimension, PartStat, SessionFormat
from ..questionnaire import Questionnaire
from ..validators import EmailAddress, PhoneNumber, SingleLine, strip_control_characters


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class InterestForm(FlaskForm):
    class Meta:
        def render_field(self, field: Field, render_kw: dict[str, Any]) -> Markup:
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
            Length(max=NAME_MAX, message=f"Full name must be {characters(NAME_MAX)} or fewer"),
            SingleLine("Enter your full name on one line"),
        ],
    )
    email = StringField(
        "Work email address",
        filters=[_strip],
        validators=[
            DataRequired("Enter your work email address"),
            Length(
                max=EMAIL_MAX, message=f"Email address must be {characters(EMAIL_MAX)} or fewer"
            ),
            SingleLine("Enter your email address on one line"),
            EmailAddress("Enter an email address in the correct format, like name@nhs.net"),
        ],
    )
    phone = StringField(
        "Phone number (optional)",
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=PHONE_MAX, message=f"Phone number must be {characters(PHONE_MAX)} or fewer"),
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
            Length(max=NAME_MAX, message=f"Organisation must be {characters(NAME_MAX)} or fewer"),
            SingleLine("Enter your organisation on one line"),
        ],
    )
    role = StringField(
        "Job title or role",
        filters=[_strip],
        validators=[
            DataRequired("Enter your job title or role"),
            Length(
                max=NAME_MAX,
                message=f"Job title or role must be {characters(NAME_MAX)} or fewer",
            ),
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
                max=TEXT_MAX,
                message=f"What you would like help with must be {characters(TEXT_MAX)} or fewer",
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
            Length(
                max=DETAIL_MAX,
                message=f"When you are usually free must be {characters(DETAIL_MAX)} or fewer",
            ),
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

    def validate_dimensions(self, field: CheckboxesField) -> None:
        chosen = set(field.data or [])
        if Dimension.NOT_SURE.value in chosen and len(chosen) > 1:
            raise ValidationError(
                "Choose the kinds of support you’d like, or ‘Not sure yet’ on its own"
            )


# ----- the forms behind the links in emails -------------------------------------------------


class LinkPageForm(FlaskForm):
    """A form on a page opened from a link. CSRFProtect checks every POST before the view runs
    (the templates send csrf_token()), so these forms check the input only."""

    class Meta:
        csrf = False

    def first_error(self) -> str | None:
        return next((str(errors[0]) for errors in self.errors.values() if errors), None)


def _multi_line(value: str | None) -> str:
    return (strip_control_characters(value) or "").strip()


NOTE_MAX = TEXT_MAX


class ChooseTimeForm(LinkPageForm):
    """The leader picks one of the proposal's times (any of them: a time that has passed since is
    refused by the workflow, in words)."""

    time = StringField(validators=[InputRequired("Choose one of the times below.")])

    def __init__(self, time_ids: Iterable[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.time_ids = set(time_ids)

    def validate_time(self, field: StringField) -> None:
        # Not one of this link's times (another leader's, or made up): nothing is shown or done.
        if parse_id((field.data or "").strip()) not in self.time_ids:
            raise ValidationError("Choose one of the times below.")

    @property
    def time_id(self) -> int:
        return parse_id((self.time.data or "").strip()) or 0


class SuitableTimesForm(LinkPageForm):
    """Which days and times would suit the leader: "none of these suit" on the choose page, and
    "ask for a different time" on the leader's session page."""

    note = TextAreaField(
        filters=[_multi_line],
        validators=[
            DataRequired("Tell your coach which days and times would suit you."),
            Length(max=NOTE_MAX, message=f"Keep your note to {characters(NOTE_MAX)}."),
        ],
    )


class CancelSessionForm(LinkPageForm):
    """The leader cancels their session; the reason is optional."""

    reason = TextAreaField(
        filters=[_multi_line],
        validators=[Length(max=NOTE_MAX, message=f"Keep your reason to {characters(NOTE_MAX)}.")],
    )


class WithdrawForm(LinkPageForm):
    """The optional reason. One too long is refused in words and kept, to be shortened (the
    page counts the characters), rather than cut off unseen."""

    reason = TextAreaField(
        filters=[_multi_line],
        validators=[Length(max=NOTE_MAX, message=f"Keep your reason to {characters(NOTE_MAX)}.")],
    )


RSVP_ANSWERS = (PartStat.ACCEPTED, PartStat.TENTATIVE, PartStat.DECLINED)


def rsvp_answer(value: str | None) -> PartStat | None:
    """ACCEPTED, TENTATIVE or DECLINED in any case (the link's ?answer= is lower case)."""
    value = (value or "").strip().upper()
    return next((a for a in RSVP_ANSWERS if a.value == value), None)


class RsvpForm(LinkPageForm):
    answer = StringField()

    def validate_answer(self, field: StringField) -> None:
        if rsvp_answer(field.data) is None:
            raise ValidationError("Choose accept, maybe or decline.")

    @property
    def chosen(self) -> PartStat:
        answer = rsvp_answer(self.answer.data)
        assert answer is not None, "validate() first"
        return answer


def questionnaire_form(questionnaire: Questionnaire, **kwargs: Any) -> FlaskForm:
    """The reflection form, built from the questions the firm wrote (the file, not the template,
    owns them). questionnaire.check_answers checks the answers against the same file."""

    class ReflectionForm(FlaskForm):
        pass

    scale = questionnaire.scale
    for question in questionnaire.questions:
        if question.kind == "rating":
            choices = []
            for value in scale:
                label = str(value)
                if questionnaire.anchor(value):
                    label += f" – {questionnaire.anchor(value)}"
                choices.append(SelectChoice(str(value), label))
            field: Any = RadioField(
                question.label, choices=choices, validators=[Optional()], validate_choice=False
            )
        else:
            field = TextAreaField(question.label, validators=[Optional()])
        setattr(ReflectionForm, question.id, field)
    return ReflectionForm(**kwargs)
