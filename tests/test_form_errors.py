"""Every form follows the GOV.UK error pattern (issue 8, rough edge 9).

Each case sends one form with bad input, as a browser would, and checks the page that comes
back: an error summary at the top (role=alert, focusable, wired to error-summary.js) whose every
link targets an element id that exists on the page; that element (or its fieldset) is described
by an error message saying the same; its group is marked as in error; and what was typed is
still there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient

from booking import links
from booking.extensions import db
from booking.kinds import Role
from booking.limits import COACH_NOTE_MAX, TEXT_MAX
from booking.models import SessionFormat, utcnow
from booking.settings import current_settings
from booking.timefmt import to_local
from booking.workflow.scheduling import propose_times, record_agreed_time

from .coach_helpers import add_coach, add_lead, csrf_token, sign_in, slot
from .conftest import hidden_fields, valid_registration

TOO_LONG = "x" * (TEXT_MAX + 1)


@dataclass
class Sent:
    """A form sent back: the response, the messages expected in its summary, and what must be
    kept in which field (by id)."""

    response: Any
    messages: list[str]
    kept: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    app: Flask
    coach_client: FlaskClient
    lead_id: int
    session_id: int
    paths: dict[str, str]


def _path(url: str) -> str:
    return url.removeprefix("http://booking.test")


@pytest.fixture
def world(app) -> World:
    with app.app_context():
        now = utcnow()  # the link pages use the real clock
        coach = add_coach(now=now)
        booked_lead = add_lead(now, 1)
        session = record_agreed_time(
            booked_lead,
            coach,
            now + timedelta(days=5),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/abc",
            now,
            settings=current_settings(),
        )
        db.session.commit()
        proposing_lead = add_lead(now, 2)
        start = to_local(now + timedelta(days=7), current_settings().zone)
        proposal = propose_times(
            proposing_lead,
            coach,
            [slot(start.date(), start.hour)],
            now,
            settings=current_settings(),
        )
        db.session.commit()
        paths = {
            "choose": _path(links.choose_url(proposal)),
            "rsvp": _path(links.rsvp_url(session, Role.LEADER)),
            "session": _path(links.leader_session_url(session)),
            "questionnaire": _path(links.questionnaire_url(session)),
            "withdraw": _path(links.withdraw_url(proposing_lead)),
            "reset": _path(links.password_reset_url(coach)),
        }
        lead_id, session_id = booked_lead.id, session.id
    coach_client = app.test_client()
    sign_in(coach_client)
    return World(app, coach_client, lead_id, session_id, paths)


def _post_from(client: FlaskClient, page: str, action: str, data: dict[str, Any]):
    """Open `page` as a browser would (its CSRF and form tokens), then post `data` to `action`."""
    opened = client.get(page)
    assert opened.status_code == 200, page
    return client.post(action, data={**hidden_fields(opened.get_data(as_text=True)), **data})


def _lead_post(world: World, action: str, data: dict[str, Any]):
    page = f"/coach/leads/{world.lead_id}"
    token = csrf_token(world.coach_client, page)
    return world.coach_client.post(action, data={"csrf_token": token, **data})


# ----- the cases: one form each, sent with bad input ----------------------------------------


def registration(world: World) -> Sent:
    data = valid_registration(full_name="", email="not-an-email", help_text=TOO_LONG)
    response = _post_from(world.app.test_client(), "/", "/", data)
    return Sent(
        response,
        ["Enter your full name", "Enter an email address in the correct format"],
        {"email": "not-an-email", "organisation": data["organisation"], "help_text": TOO_LONG},
    )


def sign_in_form(world: World) -> Sent:
    response = _post_from(
        world.app.test_client(),
        "/coach/sign-in",
        "/coach/sign-in",
        {"email": "maya@example.org", "password": ""},
    )
    return Sent(response, ["Enter your password"], {"email": "maya@example.org"})


def password_reset_request(world: World) -> Sent:
    response = _post_from(
        world.app.test_client(),
        "/coach/password-reset",
        "/coach/password-reset",
        {"email": "not-an-email"},
    )
    assert "Check your email" not in response.get_data(as_text=True)
    return Sent(
        response, ["Enter an email address in the correct format"], {"email": "not-an-email"}
    )


def password_reset(world: World) -> Sent:
    path = world.paths["reset"]
    response = _post_from(
        world.app.test_client(), path, path, {"password": "short", "confirm": "other"}
    )
    return Sent(
        response,
        ["Password must be between 8 and 128 characters", "The two passwords are not the same"],
    )


def choose_a_time(world: World) -> Sent:
    path = world.paths["choose"]
    response = _post_from(world.app.test_client(), path, path, {})
    return Sent(response, ["Choose one of the times below."])


def choose_none_suit(world: World) -> Sent:
    path = world.paths["choose"]
    response = _post_from(world.app.test_client(), path, path + "/none-suit", {"note": TOO_LONG})
    return Sent(response, ["Keep your note to 2,000 characters."], {"note": TOO_LONG})


def rsvp(world: World) -> Sent:
    path = world.paths["rsvp"]
    response = _post_from(world.app.test_client(), path, path, {"answer": "perhaps"})
    return Sent(response, ["Choose accept, maybe or decline."])


def questionnaire(world: World) -> Sent:
    path = world.paths["questionnaire"]
    response = _post_from(
        world.app.test_client(),
        path,
        path,
        {"rating_compassionate": "9", "rating_practical": "4"},
    )
    return Sent(response, ["Choose a number from 1 to 5"], {"rating_practical-3": "4"})


def withdraw(world: World) -> Sent:
    path = world.paths["withdraw"]
    response = _post_from(world.app.test_client(), path, path, {"reason": TOO_LONG})
    return Sent(response, ["Keep your reason to 2,000 characters."], {"reason": TOO_LONG})


def leader_new_time(world: World) -> Sent:
    path = world.paths["session"]
    response = _post_from(world.app.test_client(), path, path + "/new-time", {"note": " "})
    return Sent(response, ["Tell your coach which days and times would suit you."])


def leader_cancel(world: World) -> Sent:
    path = world.paths["session"] + "/cancel"
    response = _post_from(world.app.test_client(), path, path, {"reason": TOO_LONG})
    return Sent(response, ["Keep your reason to 2,000 characters."], {"reason": TOO_LONG})


def coach_note(world: World) -> Sent:
    long_note = "n" * (COACH_NOTE_MAX + 1)
    response = _lead_post(world, f"/coach/leads/{world.lead_id}/notes", {"note-body": long_note})
    return Sent(response, ["Keep a note to 5,000 characters"], {"note-body": long_note})


def status_change(world: World) -> Sent:
    response = _lead_post(
        world,
        f"/coach/leads/{world.lead_id}/status",
        {"status-to": "not-suitable", "status-reason": TOO_LONG},
    )
    return Sent(
        response,
        ["Keep the reason to 2,000 characters"],
        {"status-reason": TOO_LONG, "status-to": "not-suitable"},
    )


def record_agreed(world: World) -> Sent:
    # The booked lead cannot take another agreed time, so use a fresh one.
    with world.app.app_context():
        lead_id = add_lead(utcnow(), 3).id
    world.lead_id = lead_id
    response = _lead_post(
        world,
        f"/coach/leads/{lead_id}/agreed",
        {
            "agreed-day": "",
            "agreed-start": "25:99",
            "agreed-duration": "60",
            "agreed-format": "phone",
            "agreed-detail": "01632 960 001",
        },
    )
    return Sent(
        response,
        ["Enter the date", "Enter a start time in 24-hour format"],
        {"agreed-start": "25:99", "agreed-detail": "01632 960 001", "agreed-format": "phone"},
    )


def reschedule(world: World) -> Sent:
    prefix = f"move-{world.session_id}"
    response = _lead_post(
        world,
        f"/coach/sessions/{world.session_id}/reschedule",
        {f"{prefix}-day": "", f"{prefix}-start": "11:15", f"{prefix}-duration": "45"},
    )
    return Sent(
        response, ["Enter the date"], {f"{prefix}-start": "11:15", f"{prefix}-duration": "45"}
    )


def cancel(world: World) -> Sent:
    response = _lead_post(
        world,
        f"/coach/sessions/{world.session_id}/cancel",
        {f"cancel-{world.session_id}-reason": "  "},
    )
    return Sent(response, ["Say why the session is cancelled"])


def propose(world: World) -> Sent:
    with world.app.app_context():
        lead_id = add_lead(utcnow(), 4).id
    world.lead_id = lead_id
    day = (utcnow() + timedelta(days=9)).date().isoformat()
    data: dict[str, str] = {}
    for i in range(5):
        data.update(
            {
                f"propose-slots-{i}-day": "",
                f"propose-slots-{i}-start": "",
                f"propose-slots-{i}-duration": "60",
                f"propose-slots-{i}-format": "video",
                f"propose-slots-{i}-detail": "",
            }
        )
    data.update({"propose-slots-0-day": day, "propose-slots-0-start": "09:00"})  # no link
    data.update({"propose-slots-1-day": day, "propose-slots-1-duration": "5"})  # no start
    response = _lead_post(world, f"/coach/leads/{lead_id}/propose", data)
    return Sent(
        response,
        [
            "Time 2: enter the start time",
            "Time 2: length must be between 15 and 480 minutes",
        ],
        {"propose-slots-0-day": day, "propose-slots-1-duration": "5"},
    )


CASES = [
    registration,
    sign_in_form,
    password_reset_request,
    password_reset,
    choose_a_time,
    choose_none_suit,
    rsvp,
    questionnaire,
    withdraw,
    leader_new_time,
    leader_cancel,
    coach_note,
    status_change,
    record_agreed,
    reschedule,
    cancel,
    propose,
]


# ----- the pattern ----------------------------------------------------------------------------


def _value(element: Any) -> str:
    if element.tag == "textarea":
        # HTML drops one newline straight after <textarea> (WTForms writes one); lxml keeps it.
        text = element.text or ""
        return text[2:] if text.startswith("\r\n") else text.removeprefix("\n")
    if element.tag == "select":
        selected = element.xpath(".//option[@selected]")
        return selected[0].get("value") if selected else ""
    if element.get("type") in ("radio", "checkbox"):
        return element.get("value") if element.get("checked") is not None else ""
    return element.get("value") or ""


def _described_by(element: Any) -> list[str]:
    """The ids describing the control, or the fieldset or group it sits in."""
    for node in [element, *element.iterancestors()]:
        if node.get("aria-describedby"):
            return node.get("aria-describedby").split()
        if node.tag == "form":
            break
    return []


def _group(element: Any) -> Any:
    return next(
        (a for a in element.iterancestors() if "form-group" in (a.get("class") or "").split()),
        None,
    )


def assert_gov_uk_error_pattern(sent: Sent) -> None:
    assert sent.response.status_code in (400, 409), sent.response.status_code
    html = sent.response.get_data(as_text=True)
    page = lxml.html.fromstring(html)
    [summary] = page.xpath("//*[@data-module='error-summary']")
    assert summary.get("role") == "alert" and summary.get("tabindex") == "-1"
    assert page.xpath("//script[contains(@src, 'error-summary.js')]")
    # At the top: nothing that takes input comes before it.
    assert not summary.xpath("preceding::input[not(@type='hidden')] | preceding::textarea")
    summary_links = summary.xpath(".//a")
    assert summary_links, "an empty summary"
    summary_text = " ".join(a.text_content() for a in summary_links)
    for message in sent.messages:
        assert message in summary_text, (message, summary_text)
    for link in summary_links:
        href = link.get("href")
        assert href.startswith("#"), href
        targets = page.xpath(f"//*[@id='{href[1:]}']")
        assert len(targets) == 1, f"{href}: {len(targets)} elements with that id"
        control = targets[0]
        assert control.tag in ("input", "textarea", "select", "button"), control.tag
        message = link.text_content().strip()
        described = [page.get_element_by_id(i, None) for i in _described_by(control)]
        errors = [d for d in described if d is not None and "error-message" in d.get("class", "")]
        assert errors, f"{href} is not described by an error message"
        assert message in errors[0].text_content(), (message, errors[0].text_content())
        group = _group(control)
        assert group is not None and "form-group--error" in group.get("class")
        if control.tag in ("textarea", "select") or control.get("type") not in (
            "radio",
            "checkbox",
            "submit",
            None,
        ):
            if control.tag != "button":
                assert "input--error" in control.get("class", ""), href
    for element_id, value in sent.kept.items():
        element = page.get_element_by_id(element_id)
        assert _value(element) == value, (element_id, _value(element)[:40], value[:40])


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_form_sent_back_follows_the_gov_uk_error_pattern(world, case):
    assert_gov_uk_error_pattern(case(world))
