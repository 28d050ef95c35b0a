"""The firm's reports page for admins, and its CSV downloads (booking/reports.py computes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from .. import report_store, reports
from ..charts import bar_svg, data_uri
from ..extensions import db
from ..settings import current_now, current_settings
from ..timefmt import format_local
from .auth import admin_required


def _filters(known: list[str] | None = None) -> reports.ReportFilters:
    """The organisation asked for, if it is one of `known` (default: read them)."""
    organisation = request.args.get("organisation", "").strip()[:200]
    if organisation and organisation not in (known or reports.organisations()):
        organisation = ""  # unknown or too small to report on alone: the whole firm
    return reports.ReportFilters(organisation=organisation)


@admin_required
def reports_page() -> ResponseReturnValue:
    organisations = reports.organisations()
    filters = _filters(organisations)
    settings = current_settings()
    counted = report_store.report_tables(filters, now=current_now(), settings=settings)
    _keep_snapshots()
    tables = counted.tables
    charts = {}
    for table in tables:
        if table.chart_columns:
            charts[table.key] = data_uri(
                bar_svg(table.chart_labels(), table.series(), title=table.title)
            )
    return render_template(
        "coach/reports.html",
        tables=tables,
        charts=charts,
        filters=filters,
        organisations=organisations,
        min_leaders=reports.MIN_LEADERS,
        counted_at=(
            format_local(counted.earlier_months_counted_at, settings.zone, with_day=False)
            if counted.earlier_months_counted_at
            else None
        ),
    )


@admin_required
def reports_recount() -> ResponseReturnValue:
    """Recount now: forget the finished months' snapshots, so the page counts them again."""
    report_store.forget_all()
    db.session.commit()
    flash("Every month has been counted again.", "success")
    organisation = request.form.get("organisation", "").strip()[:200]
    if organisation:
        return redirect(url_for("coach.reports", organisation=organisation))
    return redirect(url_for("coach.reports"))


def _keep_snapshots() -> None:
    """Commit the snapshots this request counted. Two requests counting the same one at once:
    the second's insert fails on the unique constraint, and its figures are shown unkept."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


@admin_required
def report_csv(table: str) -> ResponseReturnValue:
    filters = _filters()
    settings = current_settings()
    body: str | Iterator[str]
    if table == "leads":
        body = stream_with_context(
            _stream(reports.LEAD_COLUMNS, reports.lead_rows(filters, settings))
        )
    else:
        found, _counted_at = report_store.report_table(
            table, filters, now=current_now(), settings=settings
        )
        if found is None:
            abort(404)
        _keep_snapshots()
        body = reports.to_csv(found.columns, found.rows)
    response = current_app.response_class(body, mimetype="text/csv")
    suffix = f"-{_slug(filters.organisation)}" if filters.organisation else ""
    response.headers["Content-Disposition"] = f'attachment; filename="{table}{suffix}.csv"'
    return response


def _stream(columns: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The CSV in pieces of 500 leads: the whole firm's leads never sit in memory at once."""
    yield reports.to_csv(columns, [])
    batch: list[list[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == 500:
            yield _rows_only(batch)
            batch = []
    if batch:
        yield _rows_only(batch)


def _rows_only(rows: list[list[Any]]) -> str:
    text = reports.to_csv([], rows)
    return text.split("\r\n", 1)[1]  # without the (empty) header line


def _slug(text: str) -> str:
    return "".join(c.lower() if c.isalnum() else "-" for c in text)[:60].strip("-") or "org"
