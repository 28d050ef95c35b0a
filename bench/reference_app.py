"""The floor for the registration benchmark: a hand-written Flask-WTF form with the same ten
fields as the service's interest form, validated the same way (email-validator, phonenumbers,
lengths, choices), that writes two rows (the lead and one outbox row) and redirects.

No templates engine tricks, no limiter, no history, no emails rendered: what the cheapest honest
version of "take a registration and keep it" costs on this machine, in the same run.

    REFERENCE_DATABASE_URL=sqlite:////tmp/ref.sqlite3 gunicorn 'bench.reference_app:create_app()'
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import Flask, redirect
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
)
from wtforms import (
    BooleanField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

metadata = MetaData()
lead = Table(
    "ref_lead",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True)),
    Column("full_name", String(200)),
    Column("email", String(254)),
    Column("phone", String(40)),
    Column("organisation", String(200)),
    Column("role", String(200)),
    Column("dimensions", String(100)),
    Column("help_text", Text),
    Column("preferred_format", String(20)),
    Column("availability", String(2000)),
)
outbox = Table(
    "ref_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("lead_id", Integer),
    Column("kind", String(40)),
    Column("payload", Text),
)


def _email(form: FlaskForm, field: StringField) -> None:
    try:
        validate_email(field.data or "", check_deliverability=False)
    except EmailNotValidError as error:
        raise ValidationError("Enter an email address in the correct format") from error


def _phone(form: FlaskForm, field: StringField) -> None:
    try:
        number = phonenumbers.parse(field.data or "", "GB")
    except phonenumbers.NumberParseException as error:
        raise ValidationError("Enter a phone number, like 01632 960 001") from error
    if not phonenumbers.is_possible_number(number):
        raise ValidationError("Enter a phone number, like 01632 960 001")


class Checkboxes(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class Form(FlaskForm):
    full_name = StringField("Full name", [DataRequired(), Length(max=200)])
    email = StringField("Work email address", [DataRequired(), Length(max=254), _email])
    phone = StringField("Phone number", [Optional(), Length(max=40), _phone])
    organisation = StringField("Organisation", [DataRequired(), Length(max=200)])
    role = StringField("Role", [DataRequired(), Length(max=200)])
    dimensions = Checkboxes(
        "Dimensions",
        choices=[(d, d) for d in ("compassionate", "purpose-led", "practical", "not-sure")],
    )
    help_text = TextAreaField("How can we help", [Optional(), Length(max=2000)])
    preferred_format = RadioField(
        "Format",
        [InputRequired()],
        choices=[(f, f) for f in ("video", "phone", "in-person")],
    )
    availability = TextAreaField("Availability", [Optional(), Length(max=2000)])
    consent = BooleanField("Consent", [DataRequired()])


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Register</title></head>
<body><main><h1>Register your interest</h1>
{% for field, errors in form.errors.items() %}
<p>{{ field }}: {{ errors|join(", ") }}</p>{% endfor %}
<form method="post">{{ form.csrf_token }}
{% for field in form if field.name != "csrf_token" %}
<div>{{ field.label }} {{ field() }}</div>{% endfor %}
<button>Send</button></form></main></body></html>"""


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "reference-secret")
    url = os.environ["REFERENCE_DATABASE_URL"]
    engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    if url.startswith("sqlite"):
        with engine.begin() as connection:  # as the service does: readers never wait for writers
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    metadata.create_all(engine)
    page = app.jinja_env.from_string(PAGE)  # compiled once, as a template file would be

    @app.route("/", methods=["GET", "POST"])
    def register() -> ResponseReturnValue:
        form = Form()
        if not form.validate_on_submit():
            status = 400 if form.is_submitted() else 200
            return page.render(form=form), status
        with engine.begin() as connection:
            lead_id = connection.execute(
                insert(lead).values(
                    created_at=datetime.now(UTC),
                    full_name=form.full_name.data,
                    email=form.email.data,
                    phone=form.phone.data,
                    organisation=form.organisation.data,
                    role=form.role.data,
                    dimensions=",".join(form.dimensions.data or []),
                    help_text=form.help_text.data,
                    preferred_format=form.preferred_format.data,
                    availability=form.availability.data,
                )
            ).inserted_primary_key[0]
            connection.execute(
                insert(outbox).values(
                    lead_id=lead_id, kind="acknowledgement", payload=json.dumps({"to": lead_id})
                )
            )
        return redirect("/thanks")

    @app.route("/thanks")
    def thanks() -> ResponseReturnValue:
        return "Thank you"

    return app
