"""Every coach-area URL, in one place, and the hooks that guard them all.

Every page needs a signed-in coach (`auth.require_signed_in_coach`) except signing in and
resetting a password; no page is cached (`auth.no_caching`).
"""

from __future__ import annotations

from flask import Blueprint

from . import auth, availability_views, views

bp = Blueprint("coach", __name__, url_prefix="/coach")

bp.record_once(auth.configure_login)  # Flask-Login's sign-in page and its user loader
bp.before_request(auth.require_signed_in_coach)
bp.after_request(auth.no_caching)

# Signing in and out, and password resets (auth.OPEN_ENDPOINTS need no sign-in)
bp.add_url_rule("/sign-in", "sign_in", auth.sign_in, methods=["GET", "POST"])
bp.add_url_rule("/sign-out", "sign_out", auth.sign_out, methods=["POST"])
bp.add_url_rule(
    "/password-reset",
    "password_reset_request",
    auth.password_reset_request,
    methods=["GET", "POST"],
)
bp.add_url_rule(
    "/password-reset/<token>", "password_reset", auth.password_reset, methods=["GET", "POST"]
)

# The lead list and a lead's page
# "/leads" first: url_for("coach.leads") builds the first rule of an endpoint.
bp.add_url_rule("/leads", "leads", views.leads, methods=["GET"])
bp.add_url_rule("/", "leads", views.leads, methods=["GET"])
bp.add_url_rule("/leads/<int:lead_id>", "lead_detail", views.lead_detail, methods=["GET"])

# The coach's actions on a lead
bp.add_url_rule("/leads/<int:lead_id>/status", "lead_status", views.lead_status, methods=["POST"])
bp.add_url_rule("/leads/<int:lead_id>/assign", "lead_assign", views.lead_assign, methods=["POST"])
bp.add_url_rule("/leads/<int:lead_id>/notes", "lead_note", views.lead_note, methods=["POST"])
bp.add_url_rule(
    "/leads/<int:lead_id>/propose", "lead_propose", views.lead_propose, methods=["POST"]
)
bp.add_url_rule(
    "/leads/<int:lead_id>/agreed", "lead_record_agreed", views.lead_record_agreed, methods=["POST"]
)

# A booked session
bp.add_url_rule(
    "/sessions/<int:session_id>/reschedule",
    "session_reschedule",
    views.session_reschedule,
    methods=["POST"],
)
bp.add_url_rule(
    "/sessions/<int:session_id>/cancel", "session_cancel", views.session_cancel, methods=["POST"]
)

# The leader's data rights: a copy of everything held, and erasure (with a confirmation page)
bp.add_url_rule("/leads/<int:lead_id>/export", "lead_export", views.lead_export)
bp.add_url_rule(
    "/leads/<int:lead_id>/erase", "lead_erase", views.lead_erase, methods=["GET", "POST"]
)

# The coach's own hours, and offering a leader any free slot (SELF_BOOKING)
bp.add_url_rule("/availability", "availability", availability_views.availability, methods=["GET"])
bp.add_url_rule(
    "/availability", "availability_save", availability_views.availability_save, methods=["POST"]
)
bp.add_url_rule(
    "/leads/<int:lead_id>/offer-free-slots",
    "lead_offer_free_slots",
    availability_views.lead_offer_free_slots,
    methods=["POST"],
)
