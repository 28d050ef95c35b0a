"""The reports' finished months come from a daily snapshot (booking/report_store.py): the page
put together from it must say exactly what counting every month does, and its staleness must
be the documented one (until the next local day, or "Recount now")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bench.lead_list import ORGS, load
from bench.reports import load_outcomes
from booking import report_store, reports
from booking.extensions import db
from booking.models import Lead, ReportSnapshot
from booking.reports import ReportFilters, Suppressed
from booking.settings import current_settings, set_clock

from .coach_helpers import add_coach, add_lead, post, sign_in

# Mid-month, so a day later is the same report window; the bench data run up to the real now.
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def loaded(app):
    """1,500 leads over two years, 5 coaches (admins), 4,500 sessions and self-ratings: the
    bench's data at a small size, so every table has months above and below 5."""
    load(app, 1500, seed=7)
    load_outcomes(app, 4500, seed=7)
    return app


def _count(filters: ReportFilters) -> report_store.CountedTables:
    counted = report_store.report_tables(filters, now=NOW, settings=current_settings())
    db.session.commit()
    return counted


def _everything(filters: ReportFilters) -> list[reports.ReportTable]:
    found = [
        reports.table(key, filters, now=NOW, settings=current_settings())
        for key in reports.TABLE_KEYS
    ]
    return [t for t in found if t is not None]


@pytest.mark.parametrize("organisation", ["", ORGS[3]])
def test_a_page_from_the_snapshot_says_what_counting_every_month_says(loaded, organisation):
    with loaded.app_context():
        filters = ReportFilters(organisation=organisation)
        expected = _everything(filters)
        first = _count(filters)  # counts the finished months and keeps them
        assert first.earlier_months_counted_at is None
        second = _count(filters)  # the finished months from the snapshot
        assert second.earlier_months_counted_at == NOW
        kept = db.session.scalar(
            select(func.count())
            .select_from(ReportSnapshot)
            .where(ReportSnapshot.organisation == organisation)
        )
        assert kept == len(reports.MONTHLY_KEYS)
        for counted in (first, second):
            assert [t.key for t in counted.tables] == [t.key for t in expected]
            for got, want in zip(counted.tables, expected, strict=True):
                assert got.rows == want.rows, got.key
        # The data are big enough to hold both kinds of cell, so both went through the store.
        cells = [c for t in second.tables for row in t.rows for c in row[1:]]
        assert any(isinstance(c, Suppressed) for c in cells)
        assert any(isinstance(c, int) and c >= 5 for c in cells)
        if not organisation:  # means over 5 or more leaders: the whole firm's
            assert any(isinstance(c, float) for c in cells)


def test_finished_months_keep_the_days_count_until_tomorrow_or_a_recount(app):
    with app.app_context():
        settings = current_settings()
        september_day = NOW - timedelta(days=60)
        for n in range(1, 6):
            add_lead(september_day, n=n)

        def registered(now: datetime, month: str = "2026-09") -> object:
            table, _ = report_store.report_table(
                "funnel", ReportFilters(), now=now, settings=settings
            )
            db.session.commit()
            assert table is not None
            return {row[0]: row[1] for row in table.rows}[month]

        assert registered(NOW) == 5
        for n in range(6, 8):  # two more September registrations, written late
            add_lead(september_day, n=n)
        assert registered(NOW + timedelta(hours=6)) == 5  # the same day: the morning's count
        for n in range(8, 13):  # the current month is counted live
            add_lead(NOW, n=n)
        assert registered(NOW + timedelta(hours=6), "2026-11") == 5
        assert registered(NOW + timedelta(days=1)) == 7  # the next local day counts again
        for n in range(13, 15):
            add_lead(september_day, n=n)
        assert report_store.forget_all() == 1  # the funnel's
        db.session.commit()
        assert registered(NOW + timedelta(days=1)) == 9


def test_a_new_month_counts_the_finished_months_again(app):
    with app.app_context():
        settings = current_settings()
        for n in range(1, 6):
            add_lead(NOW, n=n)
        report_store.report_tables(ReportFilters(), now=NOW, settings=settings)
        db.session.commit()
        december = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        counted = report_store.report_tables(ReportFilters(), now=december, settings=settings)
        db.session.commit()
        assert counted.earlier_months_counted_at is None  # November just finished: recounted
        funnel = next(t for t in counted.tables if t.key == "funnel")
        assert [r[0] for r in funnel.rows][-2:] == ["2026-11", "2026-12"]
        assert {r[0]: r[1] for r in funnel.rows}["2026-11"] == 5
        snapshot = db.session.scalar(
            select(ReportSnapshot).where(
                ReportSnapshot.organisation == "", ReportSnapshot.table_key == "funnel"
            )
        )
        assert snapshot is not None
        assert (snapshot.first_month, snapshot.last_month) == ("2026-01", "2026-11")


def test_the_page_says_when_earlier_months_were_counted_and_recounts_on_request(app, client):
    set_clock(app, lambda: NOW)
    with app.app_context():
        coach = add_coach(now=NOW)
        coach.is_admin = True
        db.session.commit()
    sign_in(client)
    html = client.get("/coach/reports").get_data(as_text=True)
    assert "Every month was counted just now" in html
    html = client.get("/coach/reports").get_data(as_text=True)
    assert "Earlier months were counted at 12:00 GMT today" in html
    response = post(client, "/coach/reports/recount", {}, page="/coach/reports")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/coach/reports")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReportSnapshot)) == 0
    html = client.get("/coach/reports").get_data(as_text=True)
    assert "Every month has been counted again." in html
    assert "Every month was counted just now" in html
    # Without the form's token the recount is refused, and nothing is dropped.
    assert client.post("/coach/reports/recount").status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReportSnapshot)) == 4
    # A recount from one organisation's page goes back to it.
    one = post(client, "/coach/reports/recount", {"organisation": "Eastgate Care"})
    assert one.headers["Location"].endswith("/coach/reports?organisation=Eastgate+Care")


def test_only_admins_recount(app, client):
    with app.app_context():
        add_coach(now=NOW)
    sign_in(client)  # maya, not an admin
    assert post(client, "/coach/reports/recount", {}).status_code == 403


def test_the_nightly_refresh_counts_every_organisation_worth_a_filter(app):
    with app.app_context():
        for n in range(1, 6):
            add_lead(NOW - timedelta(days=40), n=n, organisation="Eastgate Care")
        add_lead(NOW - timedelta(days=40), n=6, organisation="Tiny Trust")  # fewer than 5
        db.session.commit()
    set_clock(app, lambda: NOW)
    result = app.test_cli_runner().invoke(args=["reports", "refresh"])
    assert result.exit_code == 0, result.output
    assert "for 2 (the whole firm included)" in result.output  # '' and Eastgate, not Tiny
    with app.app_context():
        kept = set(
            db.session.execute(select(ReportSnapshot.organisation, ReportSnapshot.table_key))
        )
        organisations = {o for o, _ in kept}
        assert organisations == {"", "Eastgate Care"}
        assert len(kept) == 2 * len(reports.MONTHLY_KEYS)
        lead_count = db.session.scalar(select(func.count()).select_from(Lead))
        assert lead_count == 6
