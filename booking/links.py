"""Every signed link the service hands out, in one place: its token, its URL and its loader.

No account is needed to use a link in an email: each carries a signed, expiring token whose
payload holds ids only, never personal data. A token made for one purpose (say, choosing a
time) is refused for any other (say, withdrawing), because each purpose signs with its own salt
(itsdangerous' URLSafeTimedSerializer, salt "booking.<purpose>": links already sent keep working).

Per purpose there is one URL builder (an absolute URL from BASE_URL, usable outside a web request:
email builders call them) and one loader that returns the row, or raises `LinkRefused`. The app
turns a refusal into the same page everywhere (templates/public/link_problem.html) with the same
status for the same cause:

    invalid (tampered, another purpose's token, a row that no longer exists)  404
    expired                                                                    410
    used / replaced (what the link was for is done, or a newer link replaced it) 409

The paths here are the ones the blueprints declare (public/blueprint.py, coach/blueprint.py);
tests/test_links.py checks that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import current_app, render_template
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .extensions import db
from .models import Coach, CoachingSession, FollowUp, Lead, PartStat, Proposal
from .passwords import fingerprint

# purpose -> how long a link stays good, in seconds
LIFETIMES: dict[str, int] = {
    "withdraw": 365 * 24 * 3600,
    "choose-time": 30 * 24 * 3600,
    "rsvp": 180 * 24 * 3600,
    # The leader's "your session" page: ask for a different time, or cancel.
    "leader-session": 180 * 24 * 3600,
    "questionnaire": 180 * 24 * 3600,
    # The follow-up questionnaire after a journey (and the leader's before/after page).
    "follow-up": 180 * 24 * 3600,
    # The leader books one of the coaches' free slots themselves (SELF_BOOKING).
    "book": 60 * 24 * 3600,
    "password-reset": 3600,
    # A new coach's first password, from the email an admin's "add a coach" sends.
    "set-password": 7 * 24 * 3600,
    # The coach's private subscription feed of their sessions: lives until the coach replaces it.
    "session-feed": 20 * 365 * 24 * 3600,
    # Not a link: the interest form's signed, timed, one-time token (public/views.py).
    "register-form": 7 * 24 * 3600,
}

ROLES = ("leader", "coach")

# cause -> HTTP status of the refusal page
REFUSAL_STATUS: dict[str, int] = {"invalid": 404, "expired": 410, "used": 409, "replaced": 409}


class LinkRefused(Exception):
    """A link that cannot be used. `reason` is one of REFUSAL_STATUS; `detail` (optional) says
    in words what happened, for 'used' and 'replaced'."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        if reason not in REFUSAL_STATUS:
            raise ValueError(f"unknown refusal {reason!r}")
        super().__init__(reason)
        self.reason = reason
        self.detail = detail

    @property
    def status(self) -> int:
        return REFUSAL_STATUS[self.reason]


def refusal_page(refusal: LinkRefused) -> tuple[str, int]:
    """The one page for a refused link. Nothing about anyone on it: the link said ids only."""
    page = render_template("public/link_problem.html", reason=refusal.reason, detail=refusal.detail)
    return page, refusal.status


# ----- tokens ------------------------------------------------------------------------------


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in LIFETIMES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"booking.{purpose}")


def make_token(purpose: str, payload: Any) -> str:
    return str(_serializer(purpose).dumps(payload))


def read_token(purpose: str, token: str) -> Any:
    """The payload of a good token; LinkRefused('expired') or LinkRefused('invalid') otherwise."""
    try:
        return _serializer(purpose).loads(token, max_age=LIFETIMES[purpose])
    except SignatureExpired as error:
        raise LinkRefused("expired") from error
    except BadSignature as error:
        raise LinkRefused("invalid") from error


def _id_in(payload: Any, key: str) -> int:
    value = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise LinkRefused("invalid")
    return value


def _row(model: type[Any], row_id: int, *, for_update: bool = False) -> Any:
    row = db.session.get(model, row_id, with_for_update=for_update)
    if row is None:
        raise LinkRefused("invalid")
    return row


def _absolute(path: str, **query: str) -> str:
    url = current_app.config["BASE_URL"] + path
    return f"{url}?{urlencode(query)}" if query else url


# ----- withdraw: the leader takes back their interest (in every email to a leader) ----------


def withdraw_url(lead: Lead) -> str:
    return _absolute(f"/withdraw/{make_token('withdraw', {'lead': lead.id})}")


def load_withdraw(token: str) -> Lead:
    lead: Lead = _row(Lead, _id_in(read_token("withdraw", token), "lead"))
    return lead


# ----- choose-time: the leader picks one of the proposed times ------------------------------


def choose_url(proposal: Proposal) -> str:
    # The payload is the proposal's id itself (links already sent carry it that way).
    return _absolute(f"/choose/{make_token('choose-time', proposal.id)}")


def load_choose(token: str) -> Proposal:
    proposal_id = read_token("choose-time", token)
    if not isinstance(proposal_id, int) or isinstance(proposal_id, bool):
        raise LinkRefused("invalid")
    proposal: Proposal = _row(Proposal, proposal_id)
    return proposal


# ----- rsvp: the leader or the coach answers the invitation -------------------------------


@dataclass(frozen=True)
class RsvpLink:
    session: CoachingSession
    role: str  # "leader" or "coach"


def rsvp_url(session: CoachingSession, role: str, answer: PartStat | None = None) -> str:
    """Where `role` answers for this session (GET shows a page, POST records). `answer` only
    pre-selects the main button, because mail scanners open links."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    path = f"/rsvp/{make_token('rsvp', {'session': session.id, 'role': role})}"
    return _absolute(path, **({"answer": answer.value.lower()} if answer is not None else {}))


def load_rsvp(token: str) -> RsvpLink:
    payload = read_token("rsvp", token)
    role = payload.get("role") if isinstance(payload, dict) else None
    if role not in ROLES:
        raise LinkRefused("invalid")
    session: CoachingSession = _row(CoachingSession, _id_in(payload, "session"))
    return RsvpLink(session, str(role))


# ----- leader-session: the leader's own page to ask for a different time, or cancel ---------


def leader_session_url(session: CoachingSession) -> str:
    """Its own purpose: an Accept / Decline link, or the coach's, cannot be used to cancel."""
    return _absolute(f"/session/{make_token('leader-session', {'session': session.id})}")


def load_leader_session(token: str, *, for_update: bool = False) -> CoachingSession:
    """`for_update` locks the row (PostgreSQL) so two clicks at once act once; SQLite's writes
    are serialised already (BEGIN IMMEDIATE)."""
    session_id = _id_in(read_token("leader-session", token), "session")
    session: CoachingSession = _row(CoachingSession, session_id, for_update=for_update)
    return session


# ----- book: the leader picks a free slot themselves (SELF_BOOKING) -----------------------


def book_url(lead: Lead) -> str:
    return _absolute(f"/book/{make_token('book', {'lead': lead.id})}")


def load_book(token: str, *, for_update: bool = False) -> Lead:
    """The lead, for as long as the link lasts; whether they may still book is the workflow's
    question (a booked lead's page shows the booking)."""
    lead_id = _id_in(read_token("book", token), "lead")
    # Lock the lead row only (PostgreSQL refuses FOR UPDATE on the coach it outer-joins):
    # one booking per lead at a time; SQLite's writes are serialised already.
    lead = db.session.get(Lead, lead_id, with_for_update={"of": Lead} if for_update else None)
    if lead is None or lead.erased_at is not None:
        raise LinkRefused("invalid")
    return lead


# ----- questionnaire: the leader's reflection before the session --------------------------


def questionnaire_url(session: CoachingSession) -> str:
    return _absolute(f"/questionnaire/{make_token('questionnaire', {'session': session.id})}")


def load_questionnaire(token: str) -> CoachingSession:
    session_id = _id_in(read_token("questionnaire", token), "session")
    session: CoachingSession = _row(CoachingSession, session_id)
    return session


# ----- follow-up: the leader's ratings after the journey, then their before/after chart ----


def follow_up_url(follow_up: FollowUp) -> str:
    return _absolute(f"/follow-up/{make_token('follow-up', {'follow_up': follow_up.id})}")


def load_follow_up(token: str) -> FollowUp:
    """Refused as invalid once cancelled (the leader withdrew, or their data was erased):
    it names nobody, and there is nothing to answer."""
    follow_up: FollowUp = _row(FollowUp, _id_in(read_token("follow-up", token), "follow_up"))
    if follow_up.cancelled_at is not None or follow_up.lead.erased_at is not None:
        raise LinkRefused("invalid")
    return follow_up


# ----- password-reset: a coach sets a new password (one use: the password changes) ---------

RESET_USED = "This password reset link has been used already. Ask for a new one if you need it."


def password_reset_token(coach: Coach) -> str:
    # The password's fingerprint makes the link good for one change only.
    return make_token("password-reset", {"coach": coach.id, "fp": fingerprint(coach.password_hash)})


def password_reset_url(coach: Coach) -> str:
    return _absolute(f"/coach/password-reset/{password_reset_token(coach)}")


def load_password_reset(token: str) -> Coach:
    return _load_password_link("password-reset", token, RESET_USED)


def _load_password_link(purpose: str, token: str, used: str) -> Coach:
    payload = read_token(purpose, token)
    coach: Coach = _row(Coach, _id_in(payload, "coach"))
    if not coach.active:
        raise LinkRefused("invalid")
    if payload.get("fp") != fingerprint(coach.password_hash):
        # The password has changed since the link was sent: it has been used.
        raise LinkRefused("used", used)
    return coach


# ----- set-password: a coach an admin added chooses their first password (one use) ---------

SET_PASSWORD_USED = (
    "A password has been set with this link already. Sign in, or ask for a password reset "
    "if you have forgotten it."
)


def set_password_url(coach: Coach) -> str:
    # The account starts with a random password nobody knows; its fingerprint, as for a reset,
    # makes the link good for one change only. Its own purpose: a week rather than an hour.
    token = make_token("set-password", {"coach": coach.id, "fp": fingerprint(coach.password_hash)})
    return _absolute(f"/coach/set-password/{token}")


def load_set_password(token: str) -> Coach:
    return _load_password_link("set-password", token, SET_PASSWORD_USED)


# ----- session-feed: the coach's private .ics subscription of their sessions ---------------


def session_feed_url(coach: Coach) -> str:
    token = make_token("session-feed", {"coach": coach.id, "v": coach.session_feed_version})
    return _absolute(f"/calendar-feed/{token}.ics")


def load_session_feed(token: str) -> Coach:
    """The coach whose feed this is; 'replaced' once the coach has made a new address."""
    payload = read_token("session-feed", token)
    coach: Coach = _row(Coach, _id_in(payload, "coach"))
    if not coach.active:
        raise LinkRefused("invalid")
    if _id_in(payload, "v") != coach.session_feed_version:
        raise LinkRefused("replaced", "This calendar address was replaced by a new one.")
    return coach


# ----- not signed: the coach area's page for a lead (in the coaches' emails) ---------------


def coach_lead_url(lead_id: int) -> str:
    return _absolute(f"/coach/leads/{lead_id}")


# ----- not signed: a coach's profile photo (its address changes whenever the photo does) ----


def coach_photo_path(coach: Coach) -> str | None:
    """The photo's path, or None for a coach without one. The digest in it lets browsers and
    mail clients cache the image for good: a new photo has a new address."""
    if not coach.photo_digest:
        return None
    return f"/coach-photos/{coach.id}/{coach.photo_digest}.jpg"


def coach_photo_url(coach: Coach) -> str | None:
    """The photo's absolute URL for an email, only over https: mail clients fetch (or proxy)
    remote images only from public https addresses, and a plain-http one would be mixed content."""
    path = coach_photo_path(coach)
    if path is None or not current_app.config["BASE_URL"].startswith("https://"):
        return None
    return _absolute(path)


def coach_notification_settings_url() -> str:
    """The coach's own email preferences (immediate emails or a daily digest)."""
    return _absolute("/coach/account/notifications")
