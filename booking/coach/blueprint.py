"""Every coach-area URL, in one place, and the hooks that guard them all.

Every page needs a signed-in coach (`auth.require_signed_in_coach`) except signing in and
resetting a password; no page is cached (`auth.no_caching`).
"""

from __future__ import annotations

from flask import Blueprint

from . import auth, availability_views, calendar_views, people, reports, views

bp = Blueprint("coach", __name__, url_prefix="/coach")

bp.record_once(auth.configure_login)  # Flask-Login's sign-in page and its user loader
bp.before_request(auth.require_signed_in_coach)
bp.after_request(auth.no_caching)
# Runs before any before_request (CSRF parses the form there): the profile's photo upload.
bp.url_value_preprocessor(lambda endpoint, values: auth.allow_photo_uploads())
bp.context_processor(calendar_views.failing_calendars_banner)  # on every coach page

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
bp.add_url_rule("/set-password/<token>", "set_password", auth.set_password, methods=["GET", "POST"])

# The coach's home page (what needs them, their week), the lead list and a lead's page
bp.add_url_rule("/", "home", views.home, methods=["GET"])
bp.add_url_rule("/leads", "leads", views.leads, methods=["GET"])
bp.add_url_rule("/leads/<int:lead_id>", "lead_detail", views.lead_detail, methods=["GET"])

# The coach's actions on a lead
bp.add_url_rule("/leads/<int:lead_id>/status", "lead_status", views.lead_status, methods=["POST"])
bp.add_url_rule("/leads/<int:lead_id>/assign", "lead_assign", views.lead_assign, methods=["POST"])
bp.add_url_rule("/leads/<int:lead_id>/notes", "lead_note", views.lead_note, methods=["POST"])
bp.add_url_rule(
    "/leads/<int:lead_id>/message", "lead_message", views.lead_message, methods=["POST"]
)
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
# A held session's private notes and agreed actions (the journey: coach/journey.py)
bp.add_url_rule(
    "/sessions/<int:session_id>/notes", "session_notes", views.session_notes, methods=["POST"]
)

# The firm's reports (admins only; coach/reports.py), each table also as CSV, and the leads
bp.add_url_rule("/reports", "reports", reports.reports_page, methods=["GET"])
bp.add_url_rule("/reports/<table>.csv", "report_csv", reports.report_csv, methods=["GET"])
bp.add_url_rule("/reports/recount", "reports_recount", reports.reports_recount, methods=["POST"])

# The coach's own account: how they hear about their leads
bp.add_url_rule(
    "/account/notifications",
    "notification_settings",
    views.notification_settings,
    methods=["GET", "POST"],
)

# The leader's data rights: a copy of everything held, and erasure (with a confirmation page)
bp.add_url_rule("/leads/<int:lead_id>/export", "lead_export", views.lead_export)
bp.add_url_rule(
    "/leads/<int:lead_id>/erase", "lead_erase", views.lead_erase, methods=["GET", "POST"]
)

# Every coach's own account: their profile (what leaders see) and their password
bp.add_url_rule("/profile", "profile", people.profile, methods=["GET", "POST"])
bp.add_url_rule("/password", "password_change", people.password_change, methods=["GET", "POST"])

# Admins only (people.py: each view is admin_required, 403 for other coaches)
bp.add_url_rule("/admin/coaches", "admin_coaches", people.coaches, methods=["GET"])
bp.add_url_rule("/admin/coaches/new", "admin_coach_add", people.coach_add, methods=["GET", "POST"])
bp.add_url_rule(
    "/admin/coaches/<int:coach_id>/deactivate",
    "admin_coach_deactivate",
    people.coach_deactivate,
    methods=["POST"],
)
bp.add_url_rule(
    "/admin/coaches/<int:coach_id>/reactivate",
    "admin_coach_reactivate",
    people.coach_reactivate,
    methods=["POST"],
)
bp.add_url_rule(
    "/admin/coaches/<int:coach_id>/send-link",
    "admin_coach_send_link",
    people.coach_send_link,
    methods=["POST"],
)
bp.add_url_rule(
    "/admin/coaches/<int:coach_id>/role", "admin_coach_role", people.coach_role, methods=["POST"]
)

# The coach's own calendars and the subscription feed of their sessions
bp.add_url_rule("/calendars", "calendars", calendar_views.calendars, methods=["GET", "POST"])
bp.add_url_rule(
    "/calendars/<int:calendar_id>/remove",
    "calendar_remove",
    calendar_views.calendar_remove,
    methods=["POST"],
)
bp.add_url_rule(
    "/calendars/feed/replace",
    "session_feed_replace",
    calendar_views.session_feed_replace,
    methods=["POST"],
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
