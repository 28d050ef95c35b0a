"""People in the coach area: an admin's coach accounts, a coach's password and profile, and
the profile as leaders see it (issue 8, section 3)."""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import date, timedelta
from io import BytesIO
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from booking import emails, invite_emails, outbox
from booking.extensions import db
from booking.kinds import MailKind, Role
from booking.links import choose_url
from booking.models import (
    Coach,
    CoachPhoto,
    CoachSignIn,
    Lead,
    OutboxMessage,
    SessionFormat,
    utcnow,
)
from booking.passwords import verify_password
from booking.settings import current_settings
from booking.workflow.scheduling import propose_times, record_agreed_time

from .coach_helpers import PASSWORD, add_coach, add_lead, csrf_token, post, sign_in, slot
from .conftest import USING_POSTGRES, parse

SOON = date.today() + timedelta(days=9)
ADMIN_EMAIL = "ada@example.org"
NEW_PASSWORD = "four unrelated words here"


def add_admin(email: str = ADMIN_EMAIL, name: str = "Ada Lovell") -> Coach:
    admin = add_coach(email, name, now=utcnow())
    admin.is_admin = True
    db.session.commit()
    return admin


@pytest.fixture
def people(app: Flask) -> dict[str, int]:
    """An admin (Ada) and a coach (Maya), by id."""
    with app.app_context():
        admin = add_admin()
        coach = add_coach(now=utcnow())
        return {"admin": admin.id, "coach": coach.id}


def signed_in(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    response = sign_in(client, email, password)
    assert response.status_code == 302 and response.headers["Location"].endswith("/coach/")
    return client


def coach_row(app: Flask, coach_id: int) -> Coach:
    with app.app_context():
        coach = db.session.get(Coach, coach_id)
        assert coach is not None
        db.session.expunge(coach)
        return coach


def summary_links(response) -> dict[str, str]:
    """The error summary's rows: anchor -> message (the GOV.UK pattern)."""
    page = parse(response)
    return {
        a["attrs"]["href"]: " ".join("".join(a["text"]).split())
        for a in page.all("a")
        if a["attrs"].get("href", "").startswith("#")
        and any(ul["attrs"].get("class") == "error-summary__list" for ul in page.all("ul"))
        and a["attrs"]["href"] != "#main"
    }


def field_error(response, field_id: str) -> str:
    element = parse(response).by_id(f"{field_id}-error")
    assert element is not None, f"no error at #{field_id}"
    return " ".join("".join(element["text"]).split()).removeprefix("Error: ")


# ----- admins only --------------------------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", "/coach/admin/coaches"),
    ("GET", "/coach/admin/coaches/new"),
    ("POST", "/coach/admin/coaches/new"),
    ("POST", "/coach/admin/coaches/{admin}/deactivate"),
    ("POST", "/coach/admin/coaches/{coach}/deactivate"),
    ("POST", "/coach/admin/coaches/{coach}/reactivate"),
    ("POST", "/coach/admin/coaches/{coach}/send-link"),
    ("POST", "/coach/admin/coaches/{coach}/role"),
    ("POST", "/coach/admin/coaches/{admin}/role"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_a_coach_who_is_not_an_admin_gets_403_on_every_admin_route(app, people, method, path):
    client = signed_in(app, "maya@example.org")
    url = path.format(**people)
    if method == "GET":
        response = client.get(url)
    else:
        data = {"name": "Eve", "email": "eve@example.org", "role": "admin", "admin": "1"}
        response = post(client, url, data)
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Coach).where(Coach.email == "eve@example.org")) is None
        assert [c.is_admin for c in db.session.scalars(select(Coach).order_by(Coach.id))] == [
            True,
            False,
        ]
        assert all(db.session.scalars(select(Coach.active)))
        assert not db.session.scalars(select(OutboxMessage)).all()


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES[:2])
def test_admin_pages_need_signing_in_first(app, client, people, method, path):
    response = client.get(path.format(**people))
    assert response.status_code == 302
    assert "/coach/sign-in" in response.headers["Location"]


def test_the_nav_links_the_coaches_page_for_admins_only(app, people):
    admin = signed_in(app, ADMIN_EMAIL).get("/coach/leads").get_data(as_text=True)
    coach = signed_in(app, "maya@example.org").get("/coach/leads").get_data(as_text=True)
    assert 'href="/coach/admin/coaches"' in admin and 'href="/coach/profile"' in admin
    assert 'href="/coach/admin/coaches"' not in coach and 'href="/coach/profile"' in coach


def test_the_list_shows_name_email_role_and_account(app, people):
    with app.app_context():
        maya = db.session.get(Coach, people["coach"])
        maya.active = False
        db.session.commit()
    page = parse(signed_in(app, ADMIN_EMAIL).get("/coach/admin/coaches"))
    rows = {
        r["attrs"]["id"]: " ".join("".join(r["text"]).split())
        for r in page.all("tr")
        if r["attrs"].get("id")
    }
    assert rows[f"coach-{people['admin']}"].startswith("Ada Lovell (you) ada@example.org Admin")
    assert "Active" in rows[f"coach-{people['admin']}"]
    assert "Deactivate" not in rows[f"coach-{people['admin']}"]  # not yourself
    assert rows[f"coach-{people['coach']}"].startswith(
        "Maya Coach maya@example.org Coach Deactivated"
    )
    assert "Reactivate" in rows[f"coach-{people['coach']}"]


# ----- adding a coach: the set-password email, the link, signing in -------------------------


def test_an_added_coach_sets_a_password_from_the_email_and_signs_in(make_app, smtp_server, caplog):
    app = make_app(**smtp_server.config())
    with app.app_context():
        admin_id = add_admin().id
    admin = signed_in(app, ADMIN_EMAIL)
    caplog.set_level(logging.INFO, logger="booking.audit")
    response = post(
        admin,
        "/coach/admin/coaches/new",
        {"name": "Sam  Okoye", "email": "Sam.Okoye@Example.org", "role": "coach"},
    )
    assert response.status_code == 302
    assert "Sam Okoye has been added" in admin.get("/coach/admin/coaches").get_data(as_text=True)
    with app.app_context():
        sam = db.session.scalar(select(Coach).where(Coach.email == "sam.okoye@example.org"))
        assert sam is not None and sam.active and not sam.is_admin and sam.name == "Sam Okoye"
        sam_id = sam.id
        report = outbox.deliver_due(now=utcnow())
    assert len(report.sent) == 1
    assert f"coach {sam_id} added by coach {admin_id}" in caplog.text

    # What the real SMTP server received.
    [mail] = smtp_server.messages_to("sam.okoye@example.org")
    assert "choose a password" in str(mail["Subject"])
    text = mail.get_body(("plain",)).get_content()
    assert "Ada Lovell has given you an account" in text
    link = re.search(r"http://booking\.test(/coach/set-password/\S+)", text)
    assert link, text
    html = mail.get_body(("html",)).get_content()
    assert link.group(0).replace("&", "&amp;") in html

    # Nobody knows the password the account started with: signing in fails until it is set.
    sam_client = app.test_client()
    assert sign_in(sam_client, "sam.okoye@example.org", NEW_PASSWORD).status_code == 400

    page = sam_client.get(link.group(1))
    assert page.status_code == 200
    assert "Choose your password" in page.get_data(as_text=True)
    mismatch = sam_client.post(
        link.group(1),
        data={
            "csrf_token": csrf_token(sam_client, link.group(1)),
            "password": NEW_PASSWORD,
            "confirm": "something else entirely",
        },
    )
    assert mismatch.status_code == 400
    assert summary_links(mismatch) == {"#confirm": "The two passwords are not the same"}
    done = sam_client.post(
        link.group(1),
        data={
            "csrf_token": csrf_token(sam_client, link.group(1)),
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/coach/sign-in")
    assert sign_in(sam_client, "sam.okoye@example.org", NEW_PASSWORD).status_code == 302
    assert sam_client.get("/coach/leads").status_code == 200
    # The link worked once.
    again = app.test_client().get(link.group(1))
    assert again.status_code == 409
    assert "already" in again.get_data(as_text=True)


def test_an_admin_can_add_an_admin(app, people):
    admin = signed_in(app, ADMIN_EMAIL)
    post(
        admin,
        "/coach/admin/coaches/new",
        {"name": "Bo Admin", "email": "bo@example.org", "role": "admin"},
    )
    with app.app_context():
        bo = db.session.scalar(select(Coach).where(Coach.email == "bo@example.org"))
        assert bo is not None and bo.is_admin
        [mail] = db.session.scalars(select(OutboxMessage)).all()
        assert mail.kind == MailKind.COACH_SET_PASSWORD and mail.recipients == ["bo@example.org"]


def test_the_add_form_shows_every_problem_linked_to_its_field_and_keeps_values(app, people):
    admin = signed_in(app, ADMIN_EMAIL)
    empty = post(admin, "/coach/admin/coaches/new", {"name": "", "email": "", "role": ""})
    assert empty.status_code == 400
    assert summary_links(empty) == {
        "#name": "Enter the coach's full name",
        "#email": "Enter the coach's email address",
        "#role-0": "Choose the coach's role",
    }
    assert field_error(empty, "name") == "Enter the coach's full name"
    assert "Error: Add a coach" in empty.get_data(as_text=True)  # the page title says so

    taken = post(
        admin,
        "/coach/admin/coaches/new",
        {"name": "Maya Again", "email": "MAYA@example.org", "role": "coach"},
    )
    assert taken.status_code == 400
    assert summary_links(taken) == {
        "#email": "There is already a coach with the email maya@example.org"
    }
    assert parse(taken).value("Full name") == "Maya Again"
    assert parse(taken).value("Email address") == "MAYA@example.org"

    bad = post(
        admin,
        "/coach/admin/coaches/new",
        {"name": "Nobody", "email": "not-an-email", "role": "coach"},
    )
    assert bad.status_code == 400
    assert list(summary_links(bad)) == ["#email"]
    with app.app_context():
        assert db.session.scalar(select(Coach).where(Coach.name == "Nobody")) is None
        assert not db.session.scalars(select(OutboxMessage)).all()


def test_resending_the_link_emails_a_new_one_but_not_to_a_deactivated_coach(app, people):
    admin = signed_in(app, ADMIN_EMAIL)
    response = post(admin, f"/coach/admin/coaches/{people['coach']}/send-link", {})
    assert response.status_code == 302
    with app.app_context():
        [mail] = db.session.scalars(select(OutboxMessage)).all()
        assert mail.kind == MailKind.COACH_SET_PASSWORD
        assert mail.recipients == ["maya@example.org"]
        assert "http://booking.test/coach/set-password/" in mail.body_text
        assert "Ada Lovell has sent you a link to choose a new password" in mail.body_text
        db.session.get(Coach, people["coach"]).active = False
        db.session.commit()
    refused = post(admin, f"/coach/admin/coaches/{people['coach']}/send-link", {})
    assert refused.status_code == 409
    assert "deactivated: reactivate it first" in refused.get_data(as_text=True)
    with app.app_context():
        assert len(db.session.scalars(select(OutboxMessage)).all()) == 1


# ----- deactivating and reactivating --------------------------------------------------------


def test_deactivating_signs_the_coach_out_at_once_and_reactivating_needs_a_new_sign_in(
    app, people, caplog
):
    maya = signed_in(app, "maya@example.org")
    maya_phone = signed_in(app, "maya@example.org")
    assert maya.get("/coach/leads").status_code == 200
    admin = signed_in(app, ADMIN_EMAIL)
    caplog.set_level(logging.INFO, logger="booking.audit")
    response = post(admin, f"/coach/admin/coaches/{people['coach']}/deactivate", {})
    assert response.status_code == 302
    assert f"coach {people['coach']} deactivated by coach {people['admin']}" in caplog.text
    for client in (maya, maya_phone):
        assert client.get("/coach/leads").status_code == 302
    assert sign_in(app.test_client(), "maya@example.org").status_code == 400
    with app.app_context():
        assert not db.session.get(Coach, people["coach"]).active
        live = db.session.scalars(
            select(CoachSignIn).where(
                CoachSignIn.coach_id == people["coach"], CoachSignIn.ended_at.is_(None)
            )
        ).all()
        assert live == []

    assert post(admin, f"/coach/admin/coaches/{people['coach']}/reactivate", {}).status_code == 302
    assert f"coach {people['coach']} reactivated by coach {people['admin']}" in caplog.text
    # The old session cookie stays dead; a new sign-in works.
    assert maya_phone.get("/coach/leads").status_code == 302
    assert signed_in(app, "maya@example.org").get("/coach/leads").status_code == 200


def test_reactivating_after_a_command_line_deactivation_does_not_revive_old_sessions(app, people):
    from booking.workflow.accounts import deactivate_coach

    maya = signed_in(app, "maya@example.org")
    with app.app_context():
        deactivate_coach("maya@example.org")  # the CLI's way: sign-ins are left as they were
        db.session.commit()
    admin = signed_in(app, ADMIN_EMAIL)
    post(admin, f"/coach/admin/coaches/{people['coach']}/reactivate", {})
    assert maya.get("/coach/leads").status_code == 302


def test_an_admin_cannot_deactivate_themselves(app, people):
    with app.app_context():
        add_admin("bo@example.org", "Bo Admin")  # not the last admin either
    admin = signed_in(app, ADMIN_EMAIL)
    response = post(admin, f"/coach/admin/coaches/{people['admin']}/deactivate", {})
    assert response.status_code == 409
    assert "You cannot deactivate your own account" in response.get_data(as_text=True)
    assert coach_row(app, people["admin"]).active
    assert admin.get("/coach/admin/coaches").status_code == 200


def test_there_is_always_an_active_admin(app, people):
    admin = signed_in(app, ADMIN_EMAIL)
    alone = post(admin, f"/coach/admin/coaches/{people['admin']}/role", {"admin": "0"})
    assert alone.status_code == 409
    assert "Ada Lovell is the only active admin" in alone.get_data(as_text=True)
    assert coach_row(app, people["admin"]).is_admin

    # With a second admin, the first may step down (and loses the admin pages).
    assert (
        post(admin, f"/coach/admin/coaches/{people['coach']}/role", {"admin": "1"}).status_code
        == 302
    )
    assert coach_row(app, people["coach"]).is_admin
    maya = signed_in(app, "maya@example.org")
    # Maya (now an admin) takes Ada's role away: Ada loses the admin pages at once ...
    assert (
        post(maya, f"/coach/admin/coaches/{people['admin']}/role", {"admin": "0"}).status_code
        == 302
    )
    assert not coach_row(app, people["admin"]).is_admin
    assert admin.get("/coach/admin/coaches").status_code == 403
    # ... and Maya, the last active admin, cannot step down.
    last = post(maya, f"/coach/admin/coaches/{people['coach']}/role", {"admin": "0"})
    assert last.status_code == 409
    assert "Maya Coach is the only active admin" in last.get_data(as_text=True)


def test_the_last_active_admin_cannot_be_deactivated_by_another_route(app_ctx, now):
    """An inactive admin does not count: deactivating the only active one is refused."""
    from booking.workflow import DomainError
    from booking.workflow.coaches import deactivate

    ada = add_admin()
    bo = add_admin("bo@example.org", "Bo Admin")
    bo.active = False
    maya = add_coach(now=now)
    maya.is_admin = True
    maya.active = True
    db.session.commit()
    deactivate(maya, actor=ada, now=now)  # Ada is still an active admin
    with pytest.raises(DomainError, match="only active admin"):
        deactivate(ada, actor=bo, now=now)


# ----- changing one's own password -----------------------------------------------------------


def test_changing_the_password_checks_the_current_one_and_both_new_ones(app, people):
    maya = signed_in(app, "maya@example.org")
    wrong = post(
        maya,
        "/coach/password",
        {"current": "not my password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        page="/coach/password",
    )
    assert wrong.status_code == 400
    assert summary_links(wrong) == {"#current": "Your current password is not right"}
    mismatch = post(
        maya,
        "/coach/password",
        {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": "four unrelated words"},
        page="/coach/password",
    )
    assert mismatch.status_code == 400
    assert summary_links(mismatch) == {"#confirm": "The two new passwords are not the same"}
    short = post(
        maya,
        "/coach/password",
        {"current": PASSWORD, "password": "short", "confirm": "short"},
        page="/coach/password",
    )
    assert summary_links(short) == {
        "#password": "The new password must be between 8 and 128 characters"
    }
    with app.app_context():
        coach = db.session.get(Coach, people["coach"])
        assert verify_password(coach.password_hash, PASSWORD)


def test_changing_the_password_signs_out_everywhere_else(app, people):
    maya = signed_in(app, "maya@example.org")
    other = signed_in(app, "maya@example.org")
    response = post(
        maya,
        "/coach/password",
        {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        page="/coach/password",
    )
    assert response.status_code == 302
    assert maya.get("/coach/leads").status_code == 200  # this browser carries on
    assert other.get("/coach/leads").status_code == 302  # the other is signed out
    assert sign_in(app.test_client(), "maya@example.org", PASSWORD).status_code == 400
    assert sign_in(app.test_client(), "maya@example.org", NEW_PASSWORD).status_code == 302


# ----- the profile ------------------------------------------------------------------------


def image_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (640, 480), exif: bool = False, mode: str = "RGB"
) -> bytes:
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 0)
    out = BytesIO()
    kwargs = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "PhoneMaker"  # Make
        data[0x0110] = "SecretPhone 12"  # Model
        data[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS
        kwargs["exif"] = data.tobytes()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def post_profile(client: FlaskClient, **data):
    fields = {"csrf_token": csrf_token(client, "/coach/profile"), "shown_name": "", "bio": ""}
    fields.update(data)
    return post_multipart(client, "/coach/profile", fields)


def post_multipart(client: FlaskClient, path: str, fields: dict):
    """The body encoded in memory: the test client's own encoder spills big uploads into a
    temporary file that it never closes."""
    values = MultiDict(
        {
            key: FileStorage(value[0], filename=value[1]) if isinstance(value, tuple) else value
            for key, value in fields.items()
        }
    )
    boundary, body = encode_multipart(values)
    return client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_the_profile_keeps_a_shown_name_and_a_bio_within_its_limit(app, people):
    maya = signed_in(app, "maya@example.org")
    page = parse(maya.get("/coach/profile"))
    assert page.value("Your name as leaders see it") == "Maya Coach"
    too_long = post_profile(maya, shown_name="Dr Maya Patel", bio="x" * 601)
    assert too_long.status_code == 400
    assert summary_links(too_long) == {"#bio": "Keep what you write to 600 characters"}
    assert parse(too_long).value("About you") == "x" * 601
    assert parse(too_long).value("Your name as leaders see it") == "Dr Maya Patel"

    bio = "Twenty years in the NHS.\r\nI coach with compassion and a plan."
    assert post_profile(maya, shown_name="Dr Maya Patel", bio=bio).status_code == 302
    coach = coach_row(app, people["coach"])
    assert coach.shown_name == "Dr Maya Patel" and coach.name == "Maya Coach"
    assert coach.bio == "Twenty years in the NHS.\nI coach with compassion and a plan."
    # 600 characters exactly, counting a line break as one.
    assert post_profile(maya, bio="y" * 299 + "\r\n" + "y" * 300).status_code == 302
    # Blank: leaders see the account's name again.
    assert post_profile(maya, shown_name="  ").status_code == 302
    assert coach_row(app, people["coach"]).display_name == "Maya Coach"


def test_a_photo_is_cropped_resized_stripped_and_served_for_caching(app, people):
    maya = signed_in(app, "maya@example.org")
    upload = image_bytes("JPEG", (900, 600), exif=True)
    assert b"SecretPhone" in upload
    response = post_profile(maya, photo=(BytesIO(upload), "me.jpg"))
    assert response.status_code == 302
    coach = coach_row(app, people["coach"])
    assert coach.photo_digest and len(coach.photo_digest) == 64

    page = parse(maya.get("/coach/profile"))
    [img] = page.all("img", class_="coach-profile__photo")
    src = img["attrs"]["src"]
    assert src == f"/coach-photos/{people['coach']}/{coach.photo_digest}.jpg"

    served = app.test_client().get(src)  # no sign-in: leaders see it
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stored = Image.open(BytesIO(served.data))
    assert stored.format == "JPEG" and stored.size == (256, 256)
    assert not stored.getexif() and "exif" not in stored.info
    assert b"SecretPhone" not in served.data and b"PhoneMaker" not in served.data
    # A browser that has it asks again only to be told it has not changed.
    again = app.test_client().get(src, headers={"If-None-Match": f'"{coach.photo_digest}"'})
    assert again.status_code == 304

    # Another digest, or another coach's id, is not found.
    assert app.test_client().get(src.replace(coach.photo_digest[:4], "0000")).status_code == 404
    assert (
        app.test_client()
        .get(f"/coach-photos/{people['admin']}/{coach.photo_digest}.jpg")
        .status_code
        == 404
    )


def test_png_and_webp_are_accepted_and_transparency_becomes_white(app, people):
    maya = signed_in(app, "maya@example.org")
    assert post_profile(maya, photo=(BytesIO(image_bytes("WEBP")), "me.webp")).status_code == 302
    first = coach_row(app, people["coach"]).photo_digest
    png = BytesIO()
    Image.new("RGBA", (300, 500), (0, 0, 0, 0)).save(png, "PNG")
    assert post_profile(maya, photo=(BytesIO(png.getvalue()), "me.png")).status_code == 302
    coach = coach_row(app, people["coach"])
    assert coach.photo_digest != first
    with app.app_context():
        jpeg = db.session.get(CoachPhoto, people["coach"]).jpeg
    image = Image.open(BytesIO(jpeg))
    assert image.size == (256, 256)
    assert min(image.convert("RGB").getpixel((128, 128))) > 240  # white, not black
    # The old address is gone with the old photo.
    assert app.test_client().get(f"/coach-photos/{people['coach']}/{first}.jpg").status_code == 404


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"%PDF-1.4 this is not a picture", "The photo must be a JPEG, PNG or WebP image"),
        (image_bytes("GIF"), "The photo must be a JPEG, PNG or WebP image"),
        (image_bytes("JPEG")[:300], "The photo must be a JPEG, PNG or WebP image"),
        (b"", None),  # no file: nothing changes, no error
    ],
    ids=["not-an-image", "gif", "truncated", "empty"],
)
def test_an_upload_that_is_not_a_usable_photo_is_a_field_error(app, people, upload, message):
    maya = signed_in(app, "maya@example.org")
    response = post_profile(
        maya, bio="Kept.", photo=(BytesIO(upload), "photo.jpg" if upload else "")
    )
    if message is None:
        assert response.status_code == 302
    else:
        assert response.status_code == 400
        assert summary_links(response) == {"#photo": message}
        assert field_error(response, "photo") == message
        assert parse(response).value("About you") == "Kept."
    assert coach_row(app, people["coach"]).photo_digest is None


def test_a_decompression_bomb_is_refused_before_it_is_decoded(app, people):
    bomb = BytesIO()
    Image.new("1", (8000, 8000)).save(bomb, "PNG")  # 64 megapixels in a few kilobytes
    assert len(bomb.getvalue()) < 200_000
    maya = signed_in(app, "maya@example.org")
    response = post_profile(maya, photo=(BytesIO(bomb.getvalue()), "bomb.png"))
    assert response.status_code == 400
    assert summary_links(response)["#photo"].startswith("The photo is too large in pixels")
    assert coach_row(app, people["coach"]).photo_digest is None


def test_a_photo_of_a_few_megabytes_is_taken_but_only_from_a_signed_in_coach(app, people):
    noise = BytesIO()
    Image.effect_noise((1200, 1200), 120).convert("RGB").save(noise, "PNG")
    big = noise.getvalue()
    assert 1_000_000 < len(big) < 5 * 1024 * 1024  # far over the usual 64 KB body limit
    maya = signed_in(app, "maya@example.org")
    assert post_profile(maya, photo=(BytesIO(big), "big.png")).status_code == 302
    assert coach_row(app, people["coach"]).photo_digest
    anonymous = app.test_client()
    response = post_multipart(anonymous, "/coach/profile", {"photo": (BytesIO(big), "big.png")})
    assert response.status_code == 413
    # Over 5 MB: refused in words, before anything is stored.
    huge = post_profile(maya, photo=(BytesIO(b"\xff" * (5 * 1024 * 1024 + 10)), "huge.jpg"))
    assert huge.status_code in (400, 413)


def test_removing_the_photo(app, people):
    maya = signed_in(app, "maya@example.org")
    post_profile(maya, photo=(BytesIO(image_bytes()), "me.jpg"))
    digest = coach_row(app, people["coach"]).photo_digest
    assert digest
    assert post_profile(maya, remove_photo="y").status_code == 302
    assert coach_row(app, people["coach"]).photo_digest is None
    with app.app_context():
        assert db.session.get(CoachPhoto, people["coach"]) is None
    assert app.test_client().get(f"/coach-photos/{people['coach']}/{digest}.jpg").status_code == 404


# ----- what leaders see -------------------------------------------------------------------


def _profile_with_photo(app: Flask, people: dict[str, int]) -> str:
    maya = signed_in(app, "maya@example.org")
    response = post_profile(
        maya,
        shown_name="Dr Maya Patel",
        bio="Twenty years in the NHS.\nI coach with <b>compassion</b>.",
        photo=(BytesIO(image_bytes()), "me.jpg"),
    )
    assert response.status_code == 302
    digest = coach_row(app, people["coach"]).photo_digest
    assert digest
    return digest


def test_the_choose_page_shows_the_coach_profile(app, people):
    digest = _profile_with_photo(app, people)
    with app.app_context():
        lead = add_lead(utcnow(), 1)
        coach = db.session.get(Coach, people["coach"])
        lead.assigned_coach = coach
        db.session.flush()
        proposal = propose_times(
            lead, coach, [slot(SOON, 10)], utcnow(), settings=current_settings()
        )
        db.session.commit()
        path = urlsplit(choose_url(proposal)).path
    response = app.test_client().get(path)
    assert response.status_code == 200
    page = parse(response)
    [section] = page.all("section", class_="coach-profile")
    text = " ".join("".join(section["text"]).split())
    assert text.startswith("Your coach Dr Maya Patel Twenty years in the NHS.")
    assert "I coach with <b>compassion</b>." in text  # shown as typed, never as markup
    [img] = page.all("img", class_="coach-profile__photo")
    assert img["attrs"]["src"] == f"/coach-photos/{people['coach']}/{digest}.jpg"
    assert img["attrs"]["alt"] == "Photo of Dr Maya Patel"
    assert "Dr Maya Patel has offered these times" in page.text
    assert "Maya Coach" not in page.text


def test_leader_emails_show_the_profile_and_the_photo_only_over_https(make_app, people_https):
    app, lead_id, coach_id = people_https
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        coach = db.session.get(Coach, coach_id)
        lead.assigned_coach = coach
        db.session.flush()
        proposal = propose_times(
            lead, coach, [slot(SOON, 10)], utcnow(), settings=current_settings()
        )
        draft = emails.leader_proposed_times(proposal, settings=current_settings())
        photo = f"https://booking.example/coach-photos/{coach.id}/{coach.photo_digest}.jpg"
        assert "About your coach, Dr Maya Patel:\nTwenty years in the NHS." in draft.text
        assert "Dr Maya Patel would like to offer you these times" in draft.text
        assert f'<img src="{photo}" width="80" height="80" alt="Photo of Dr Maya Patel"' in (
            draft.html
        )
        assert "Twenty years in the NHS.<br>I coach with &lt;b&gt;compassion" in draft.html
        session = record_agreed_time(
            lead,
            coach,
            utcnow() + timedelta(days=10),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/abc",
            utcnow(),
            settings=current_settings(),
        )
        leader = invite_emails.invitation(
            session, Role.LEADER, now=utcnow(), settings=current_settings()
        )
        coach_copy = invite_emails.invitation(
            session, Role.COACH, now=utcnow(), settings=current_settings()
        )
        assert "About your coach, Dr Maya Patel" in leader.text and photo in leader.html
        assert "Coaching session with Dr Maya Patel" in leader.subject
        assert "About your coach" not in coach_copy.text + coach_copy.html
        db.session.rollback()


def test_no_photo_in_emails_over_plain_http(app, people):
    _profile_with_photo(app, people)
    with app.app_context():
        lead = add_lead(utcnow(), 1)
        coach = db.session.get(Coach, people["coach"])
        lead.assigned_coach = coach
        db.session.flush()
        proposal = propose_times(
            lead, coach, [slot(SOON, 10)], utcnow(), settings=current_settings()
        )
        draft = emails.leader_proposed_times(proposal, settings=current_settings())
    assert "<img" not in draft.html
    assert "About your coach, Dr Maya Patel" in draft.html and "About your coach" in draft.text


@pytest.fixture
def people_https(make_app):
    """An app on https with Maya's profile (shown name, bio, photo) and a lead."""
    app = make_app(BASE_URL="https://booking.example")
    with app.app_context():
        admin = add_admin()
        coach = add_coach(now=utcnow())
        ids = {"admin": admin.id, "coach": coach.id}
    _profile_with_photo(app, ids)
    with app.app_context():
        lead = add_lead(utcnow(), 1)
        return app, lead.id, ids["coach"]


@pytest.mark.skipif(not USING_POSTGRES, reason="SQLite serialises writers at BEGIN IMMEDIATE")
def test_two_admins_removing_each_other_at_once_leave_one_admin(app, people):
    """Ada takes Maya's role while Maya takes Ada's: the second waits for the first's lock,
    then sees only one admin left and is refused."""
    from sqlalchemy import text

    from booking.workflow import DomainError
    from booking.workflow.coaches import set_admin

    with app.app_context():
        db.session.get(Coach, people["coach"]).is_admin = True
        db.session.commit()
    locked, go = threading.Event(), threading.Event()
    outcome: dict[str, str] = {}

    def first() -> None:  # Ada removes Maya's role, and holds the transaction open
        with app.app_context():
            ada, maya = (
                db.session.get(Coach, people["admin"]),
                db.session.get(Coach, people["coach"]),
            )
            set_admin(maya, False, actor=ada, now=utcnow())
            locked.set()
            go.wait(30)
            db.session.commit()
            outcome["first"] = "done"

    def second() -> None:  # Maya removes Ada's role meanwhile
        with app.app_context():
            ada, maya = (
                db.session.get(Coach, people["admin"]),
                db.session.get(Coach, people["coach"]),
            )
            try:
                set_admin(ada, False, actor=maya, now=utcnow())
                db.session.commit()
                outcome["second"] = "done"
            except DomainError as error:
                db.session.rollback()
                outcome["second"] = str(error)

    one = threading.Thread(target=first)
    one.start()
    assert locked.wait(30)
    two = threading.Thread(target=second)
    two.start()
    with app.app_context():  # wait until the second really waits on the first's lock
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            waiting = db.session.scalar(
                text(
                    "select count(*) from pg_stat_activity "
                    "where wait_event_type = 'Lock' and datname = current_database()"
                )
            )
            db.session.rollback()
            if waiting:
                break
        assert waiting, "the second transaction never waited for the first"
    go.set()
    one.join(30)
    two.join(30)
    assert outcome["first"] == "done"
    assert "is the only active admin" in outcome["second"]
    with app.app_context():
        admins = db.session.scalars(select(Coach.id).where(Coach.is_admin, Coach.active)).all()
    assert admins == [people["admin"]]


def test_guessing_the_current_password_is_throttled_like_signing_in(app, people):
    """A borrowed session cannot be used to guess the password: wrong current passwords count
    as failed sign-ins."""
    maya = signed_in(app, "maya@example.org")
    for n in range(5):
        with app.app_context():
            # Each try after the third must wait a little: step past the wait (no sleeping).
            from booking.models import LoginFailure

            for failure in db.session.scalars(select(LoginFailure)):
                failure.at -= timedelta(seconds=31)
            db.session.commit()
        wrong = post(
            maya,
            "/coach/password",
            {"current": f"guess {n}", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            page="/coach/password",
        )
        assert wrong.status_code == 400
    refused = post(
        maya,
        "/coach/password",
        {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        page="/coach/password",
    )
    assert refused.status_code == 429
    assert list(summary_links(refused)) == ["#current"]
    assert summary_links(refused)["#current"].startswith("Too many wrong passwords. Wait ")
    with app.app_context():
        assert verify_password(db.session.get(Coach, people["coach"]).password_hash, PASSWORD)
