"""Coach area (signed-in coaches only)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import login_required

from ..extensions import db, login_manager
from ..models import Coach, Lead

bp = Blueprint("coach", __name__, url_prefix="/coach")


@login_manager.user_loader
def load_coach(coach_id: str) -> Coach | None:
    coach = db.session.get(Coach, int(coach_id)) if coach_id.isdigit() else None
    return coach if coach is not None and coach.active else None


@bp.get("/leads/<int:lead_id>")
@login_required
def lead_detail(lead_id: int):
    lead = db.session.get(Lead, lead_id) or abort(404)
    return render_template("coach/lead_detail.html", lead=lead)
