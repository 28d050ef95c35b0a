"""The reflection questionnaire: questions as data the firm edits, a printable PDF, answer checks.

The questions live in `booking/questionnaire.json` (or the file QUESTIONNAIRE_FILE names), so
the firm changes wording without touching code or templates. Storing answers is a workflow
step (workflow/responses.py); this module only says what a valid set of answers is.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from .limits import TEXT_MAX

DEFAULT_FILE = Path(__file__).with_name("questionnaire.json")
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
QUESTION_KINDS = ("rating", "text")
TEXT_MAX_LENGTH = TEXT_MAX
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class QuestionnaireError(ValueError):
    """The questionnaire file is missing or malformed; the message says where."""


@dataclass(frozen=True)
class Question:
    id: str
    kind: str  # "rating" or "text"
    label: str
    hint: str = ""
    dimension: str | None = None
    max_length: int = TEXT_MAX_LENGTH


@dataclass(frozen=True)
class Questionnaire:
    title: str
    introduction: str
    questions: list[Question]
    language: str = "en-GB"
    minutes: int = 5
    scale_min: int = 1
    scale_max: int = 5
    low_label: str = ""
    high_label: str = ""
    # A worded anchor for each point of the scale ("3": "Often"), so every number means the
    # same to every leader, before and after.
    anchors: dict[int, str] = field(default_factory=dict)

    @property
    def scale(self) -> list[int]:
        return list(range(self.scale_min, self.scale_max + 1))

    def anchor(self, value: int) -> str:
        """The words for a point of the scale ("" when the file gives none)."""
        if value in self.anchors:
            return self.anchors[value]
        if value == self.scale_min:
            return self.low_label
        if value == self.scale_max:
            return self.high_label
        return ""

    def rating_question(self, dimension: str) -> Question | None:
        """The rating question for a dimension (compassionate, purpose-led, practical)."""
        return next((q for q in self.ratings if q.dimension == dimension), None)

    @property
    def ratings(self) -> list[Question]:
        return [q for q in self.questions if q.kind == "rating"]

    @property
    def open_questions(self) -> list[Question]:
        return [q for q in self.questions if q.kind == "text"]


def questionnaire_path(configured: str | Path | None = None) -> Path:
    """The questions file: the QUESTIONNAIRE_FILE setting, else the one shipped here."""
    return Path(configured) if configured else DEFAULT_FILE


def _text(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise QuestionnaireError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def parse_questionnaire(data: Any, source: str = "questionnaire") -> Questionnaire:
    if not isinstance(data, dict):
        raise QuestionnaireError(f"{source}: expected a JSON object at the top")
    scale = data.get("scale") or {}
    try:
        scale_min, scale_max = int(scale.get("min", 1)), int(scale.get("max", 5))
    except (TypeError, ValueError) as error:
        raise QuestionnaireError(f"{source}: scale min/max must be whole numbers") from error
    if not 0 <= scale_min < scale_max <= 10:
        raise QuestionnaireError(f"{source}: scale must run upwards, within 0 to 10")
    raw_anchors = scale.get("anchors") or {}
    if not isinstance(raw_anchors, dict):
        raise QuestionnaireError(f"{source}: scale anchors must be an object of number: words")
    anchors: dict[int, str] = {}
    for key, words in raw_anchors.items():
        if not (str(key).isascii() and str(key).isdigit()) or not isinstance(words, str):
            raise QuestionnaireError(f"{source}: scale anchor {key!r} must be a number: words")
        if not scale_min <= int(key) <= scale_max:
            raise QuestionnaireError(f"{source}: scale anchor {key} is outside the scale")
        anchors[int(key)] = words.strip()

    questions: list[Question] = []
    seen: set[str] = set()
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise QuestionnaireError(f"{source}: 'questions' must be a non-empty list")
    for number, raw in enumerate(raw_questions, start=1):
        where = f"{source}: question {number}"
        if not isinstance(raw, dict):
            raise QuestionnaireError(f"{where}: expected an object")
        qid = _text(raw, "id", where)
        if not _ID.match(qid) or qid in seen:
            raise QuestionnaireError(
                f"{where}: id {qid!r} must be unique, lower case, letters, digits, - or _"
            )
        seen.add(qid)
        kind = _text(raw, "type", where)
        if kind not in QUESTION_KINDS:
            raise QuestionnaireError(f"{where}: type must be one of {', '.join(QUESTION_KINDS)}")
        questions.append(
            Question(
                id=qid,
                kind=kind,
                label=_text(raw, "label", where),
                hint=_text(raw, "hint", where, required=False),
                dimension=raw.get("dimension") or None,
                max_length=int(raw.get("max_length", TEXT_MAX_LENGTH)),
            )
        )
    return Questionnaire(
        title=_text(data, "title", source),
        introduction=_text(data, "introduction", source, required=False),
        questions=questions,
        language=str(data.get("language") or "en-GB"),
        minutes=int(data.get("minutes", 5)),
        scale_min=scale_min,
        scale_max=scale_max,
        low_label=str(scale.get("low_label", "")),
        high_label=str(scale.get("high_label", "")),
        anchors=anchors,
    )


def load_questionnaire(path: str | Path | None = None) -> Questionnaire:
    """Read the questions afresh each time: a file the firm edits takes effect at once."""
    path = Path(path) if path else questionnaire_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise QuestionnaireError(f"cannot read questionnaire file {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise QuestionnaireError(f"{path}: not valid JSON: {error}") from error
    return parse_questionnaire(data, source=str(path))


# ----- answers ----------------------------------------------------------------------------


@dataclass
class AnswerCheck:
    answers: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_answers(questionnaire: Questionnaire, submitted: Mapping[str, Any]) -> AnswerCheck:
    """Keep the answers to known questions; every question is optional.

    A rating is a whole number on the scale; text is trimmed, single-spaced line ends kept,
    and no longer than the question allows. Unknown keys are dropped, never stored.
    """
    check = AnswerCheck()
    for question in questionnaire.questions:
        raw = submitted.get(question.id)
        value = "" if raw is None else str(raw).strip()
        if not value:
            continue
        if question.kind == "rating":
            # isascii: str.isdigit() also says yes to "²", which int() refuses.
            if not (value.isascii() and value.isdigit()) or not (
                questionnaire.scale_min <= int(value) <= questionnaire.scale_max
            ):
                check.errors[question.id] = (
                    f"Choose a number from {questionnaire.scale_min} to {questionnaire.scale_max}"
                )
                continue
            check.answers[question.id] = int(value)
        else:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
            if len(value) > question.max_length:
                check.errors[question.id] = (
                    f"Answer must be {question.max_length:,} characters or fewer"
                )
                continue
            check.answers[question.id] = value
    return check


@dataclass(frozen=True)
class AnsweredQuestion:
    """One stored answer with the question's current wording, for the coach to read."""

    label: str
    kind: str
    answer: str


def answered_questions(
    questionnaire: Questionnaire, answers: Mapping[str, Any]
) -> list[AnsweredQuestion]:
    """The leader's answers in the questionnaire's order, worded as the file words them now.

    Unanswered questions are left out. An answer to a question the firm has since removed
    from the file is still shown (under its id): the leader wrote it for the coach.
    """
    rows: list[AnsweredQuestion] = []
    for question in questionnaire.questions:
        if question.id not in answers:
            continue
        value = answers[question.id]
        if question.kind == "rating":
            text = f"{value} out of {questionnaire.scale_max}"
            if isinstance(value, int) and questionnaire.anchor(value):
                text += f" ({questionnaire.anchor(value)})"
        else:
            text = str(value)
        rows.append(AnsweredQuestion(question.label, question.kind, text))
    known = {q.id for q in questionnaire.questions}
    rows += [
        AnsweredQuestion(f"{qid} (no longer in the questionnaire)", "text", str(value))
        for qid, value in answers.items()
        if qid not in known
    ]
    return rows


# ----- the printable PDF -----------------------------------------------------------------


def _unicode_font() -> tuple[Path, Path] | None:
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    return (regular, bold) if regular.is_file() and bold.is_file() else None


_ASCII = str.maketrans(
    {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "•": "-"}
)


def _ascii(text: str) -> str:
    # Core PDF fonts know Latin-1 at best: keep the letters, drop the accents.
    text = text.translate(_ASCII)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


# (dimension label, before, after) for the "your ratings so far" chart; None: not rated.
RatingRows = tuple[tuple[str, int | None, int | None], ...]


def render_pdf(
    questionnaire: Questionnaire | None = None,
    created_at: datetime | None = None,
    firm: str = "",
    ratings: RatingRows | None = None,
) -> bytes:
    """An A4 PDF to print and write on: real text (searchable, read aloud by screen readers),
    a title, document language and metadata, the title shown by viewers, bookmarks per part.
    """
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    q = questionnaire or load_questionnaire()
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    fonts = _unicode_font()
    if fonts:
        pdf.add_font("DejaVu", "", str(fonts[0]))
        pdf.add_font("DejaVu", "B", str(fonts[1]))
        family, text = "DejaVu", (lambda s: s)
    else:
        family, text = "Helvetica", _ascii

    pdf.set_title(text(q.title))
    pdf.set_lang(q.language)
    pdf.set_subject(text("Reflection questionnaire for a coaching session"))
    if firm:
        pdf.set_author(text(firm))
    pdf.set_creator(text(firm or "booking service"))
    pdf.set_keywords("compassionate leadership, reflection, questionnaire")
    pdf.set_creation_date(created_at or datetime.now(UTC))
    pdf.set_display_mode("fullwidth")
    try:  # fpdf2 >= 2.7.6: viewers show the title, not the file name
        from fpdf.enums import PageMode  # noqa: F401
        from fpdf.prefs import ViewerPreferences

        pdf.viewer_preferences = ViewerPreferences(display_doc_title=True)
    except ImportError:  # pragma: no cover - older fpdf2
        pass

    width = pdf.epw
    pdf.add_page()

    def paragraph(body: str, size: float = 11, style: str = "", gap: float = 2) -> None:
        pdf.set_font(family, style, size)
        pdf.multi_cell(
            width, size * 0.5, text(body), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.ln(gap)

    def writing_lines(count: int) -> None:
        pdf.set_draw_color(150, 150, 150)
        for _ in range(count):
            if pdf.will_page_break(9):
                pdf.add_page()
            pdf.ln(9)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
        pdf.ln(4)

    pdf.start_section(text(q.title))
    paragraph(q.title, size=20, style="B", gap=3)
    if firm:
        paragraph(firm, size=11, gap=3)
    if q.introduction:
        paragraph(q.introduction, gap=5)

    if ratings:
        # Bars drawn with the PDF's own lines (fpdf2 cannot style pygal's SVG), with each
        # value also written as text: the numbers are read aloud, not only seen.
        pdf.start_section(text("Your ratings so far"), level=1)
        paragraph("Your ratings so far", size=14, style="B")
        paragraph(
            f"Before your first session and after your coaching, out of {q.scale_max}.", gap=3
        )
        label_w, bar_max = 45.0, width - 45.0 - 25.0
        series = (("Before", (111, 119, 123)), ("After", (0, 112, 60)))
        for label, *values in ratings:
            pdf.set_font(family, "B", 11)
            pdf.cell(width, 7, text(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            for (name, colour), value in zip(series, values, strict=True):
                pdf.set_font(family, "", 10)
                pdf.cell(label_w, 7, text(name))
                x, y = pdf.get_x(), pdf.get_y()
                if value is not None:
                    pdf.set_fill_color(*colour)
                    pdf.rect(x, y + 1, bar_max * value / q.scale_max, 5, style="F")
                pdf.set_x(x + bar_max + 3)
                pdf.cell(22, 7, text(str(value) if value is not None else "not rated"))
                pdf.ln(7)
            pdf.ln(2)
        pdf.ln(4)

    if q.ratings:
        pdf.start_section(text("Rate yourself today"), level=1)
        paragraph("Rate yourself today", size=14, style="B")
        scale_note = f"Circle one number: {q.scale_min}"
        scale_note += f" ({q.low_label})" if q.low_label else ""
        scale_note += f" to {q.scale_max}" + (f" ({q.high_label})" if q.high_label else "") + "."
        paragraph(scale_note, gap=4)
        for question in q.ratings:
            if pdf.will_page_break(30):
                pdf.add_page()
            paragraph(question.label, style="B", gap=2)
            pdf.set_font(family, "", 12)
            for value in q.scale:
                pdf.cell(18, 9, str(value), border=1, align="C")
                pdf.cell(4, 9, "")
            pdf.ln(9)
            # The worded anchor under each number.
            pdf.set_font(family, "", 7)
            for value in q.scale:
                pdf.cell(18, 5, text(q.anchor(value)), align="C")
                pdf.cell(4, 5, "")
            pdf.ln(9)

    if q.open_questions:
        pdf.start_section(text("Reflect"), level=1)
        paragraph("Reflect", size=14, style="B", gap=4)
        for number, question in enumerate(q.open_questions, start=1):
            if pdf.will_page_break(50):
                pdf.add_page()
            paragraph(f"{number}. {question.label}", style="B", gap=1)
            if question.hint:
                paragraph(question.hint, size=10, gap=0)
            writing_lines(5)

    paragraph(
        "You can also answer online: use the questionnaire link in your invitation. "
        "Your answers are optional and only your coach sees them.",
        size=10,
        gap=0,
    )
    return bytes(pdf.output())


def questionnaire_pdf(
    configured: str | Path | None = None, firm: str = "", ratings: RatingRows | None = None
) -> bytes:
    """The PDF of the current questionnaire file, rendered once while the file is unchanged
    (rendering with an embedded font takes a noticeable fraction of a second). With a
    leader's `ratings` it carries their before/after chart; that one too is rendered once for
    the same ratings (it goes with each invitation of their journey)."""
    path = questionnaire_path(configured)
    try:
        stat = path.stat()
    except OSError as error:
        raise QuestionnaireError(f"cannot read questionnaire file {path}: {error}") from error
    return _rendered_pdf(str(path), stat.st_mtime_ns, stat.st_size, firm, ratings or None)


@lru_cache(maxsize=32)  # ~25 kB each
def _rendered_pdf(
    path: str, mtime_ns: int, size: int, firm: str, ratings: RatingRows | None
) -> bytes:
    return render_pdf(load_questionnaire(Path(path)), firm=firm, ratings=ratings)


__all__ = [
    "AnswerCheck",
    "Question",
    "Questionnaire",
    "QuestionnaireError",
    "check_answers",
    "load_questionnaire",
    "parse_questionnaire",
    "questionnaire_path",
    "questionnaire_pdf",
    "render_pdf",
]
