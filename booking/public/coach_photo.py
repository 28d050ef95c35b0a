"""A coach's profile photo, as leaders see it (the choose-a-time page, emails).

Its address holds the photo's digest (links.coach_photo_path), so the image can be cached
for a year without ever going stale: a new photo has a new address, and an old address
answers 404. The bytes are the JPEG booking/photos.py made (no metadata).
"""

from __future__ import annotations

from flask import Response, abort, request
from flask.typing import ResponseReturnValue

from ..extensions import db
from ..models import Coach, CoachPhoto

ONE_YEAR = 365 * 24 * 3600


def coach_photo(coach_id: int, digest: str) -> ResponseReturnValue:
    coach = db.session.get(Coach, coach_id)
    if coach is None or not coach.photo_digest or coach.photo_digest != digest:
        abort(404)
    photo = db.session.get(CoachPhoto, coach_id)
    if photo is None:
        abort(404)
    response = Response(photo.jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    response.set_etag(digest)
    return response.make_conditional(request)
