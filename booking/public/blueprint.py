"""Every public URL, in one place. The views only define functions; this file says where they live.

Links from emails (/withdraw, /choose, /rsvp, /session, /questionnaire) carry a signed token:
their purposes, URLs and loaders are in booking/links.py. Opening one changes nothing (mail
scanners open links in emails); every change is a POST from the page.
"""

from __future__ import annotations

from flask import Blueprint

from . import (
    choose,
    coach_photo,
    follow_up,
    invite_links,
    leader_session,
    self_booking,
    session_feed,
    views,
)

bp = Blueprint("public", __name__)

# The interest form and what surrounds it
bp.add_url_rule("/", "register", views.register, methods=["GET", "POST"])
bp.add_url_rule("/thank-you", "thank_you", views.thank_you, methods=["GET"])
bp.add_url_rule("/privacy", "privacy", views.privacy, methods=["GET"])
bp.add_url_rule("/healthz", "healthz", views.healthz, methods=["GET"])  # liveness
bp.add_url_rule("/readyz", "readyz", views.readyz, methods=["GET"])  # readiness: the database

# The leader withdraws (in every email to a leader)
bp.add_url_rule("/withdraw/<token>", "withdraw", views.withdraw_interest, methods=["GET", "POST"])

# The leader chooses one of the proposed times, or says none suit
bp.add_url_rule("/choose/<token>", "choose_time", choose.choose_time, methods=["GET"])
bp.add_url_rule("/choose/<token>", "choose_time_pick", choose.choose_time_pick, methods=["POST"])
bp.add_url_rule(
    "/choose/<token>/none-suit",
    "choose_time_none_suit",
    choose.choose_time_none_suit,
    methods=["POST"],
)

# The invitation's links: answer it (leader or coach), and the leader's reflection
bp.add_url_rule("/rsvp/<token>", "rsvp", invite_links.rsvp, methods=["GET", "POST"])
bp.add_url_rule(
    "/questionnaire/<token>", "questionnaire", invite_links.questionnaire, methods=["GET", "POST"]
)

# The follow-up after a coaching journey: ratings again, then before and after side by side
bp.add_url_rule("/follow-up/<token>", "follow_up", follow_up.follow_up, methods=["GET", "POST"])

# The leader's own page for a booked session: ask for a different time, or cancel
bp.add_url_rule(
    "/session/<token>", "leader_session", leader_session.leader_session, methods=["GET"]
)
bp.add_url_rule(
    "/session/<token>/new-time",
    "leader_session_new_time",
    leader_session.leader_session_new_time,
    methods=["POST"],
)
bp.add_url_rule(
    "/session/<token>/cancel",
    "leader_session_cancel",
    leader_session.leader_session_cancel,
    methods=["GET", "POST"],
)

# A coach's profile photo (its digest is in the address: cached for good, see coach_photo.py)
bp.add_url_rule(
    "/coach-photos/<int:coach_id>/<digest>.jpg",
    "coach_photo",
    coach_photo.coach_photo,
    methods=["GET"],
)

# A coach's private subscription feed of their sessions (links.session_feed_url)
bp.add_url_rule(
    "/calendar-feed/<token>.ics", "session_feed", session_feed.session_feed, methods=["GET"]
)

# Leaders booking a free slot themselves (SELF_BOOKING), moving it, and the .ics download
bp.add_url_rule("/book/<token>", "book", self_booking.book, methods=["GET"])
bp.add_url_rule("/book/<token>", "book_pick", self_booking.book_pick, methods=["POST"])
bp.add_url_rule(
    "/session/<token>/move",
    "leader_session_move",
    self_booking.leader_session_move,
    methods=["GET", "POST"],
)
bp.add_url_rule(
    "/session/<token>/calendar.ics",
    "leader_session_ics",
    self_booking.leader_session_ics,
    methods=["GET"],
)
