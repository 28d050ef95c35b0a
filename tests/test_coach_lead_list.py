"""The lead list: "my open leads" by default, sortable columns whose links keep the filters,
counts per status, the next session and whose move it is, every filter in the URL, and keyset
pages (no duplicates or gaps, even where many leads share a sort key)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from booking.extensions import db
from booking.models import (
    Coach,
    CoachingSession,
    Lead,
    LeadStatus,
    PartStat,
    SessionFormat,
    utcnow,
)
from booking.settings import current_settings, set_clock
from booking.workflow.responses import record_partstat
from booking.workflow.scheduling import (
    leader_request_new_time,
    propose_times,
)

from .coach_helpers import add_coach, add_lead, agree_by_phone, count_statements, sign_in, slot
from .conftest import parse

NOW = datetime(2027, 3, 24, 10, tzinfo=UTC)


@pytest.fixture
def coach(app):
    set_clock(app, lambda: NOW)
    with app.app_context():
        return add_coach(now=utcnow()).id


@pytest.fixture
def signed_in(client, coach):
    assert sign_in(client).status_code == 302
    return client


def bulk(app, rows: list[dict]) -> None:
    base = dict(
        phone=None,
        role="Manager",
        help_text="",
        preferred_format=SessionFormat.PHONE,
        availability="",
        status=LeadStatus.NEW,
        status_reason="",
        dimensions="",
        organisation="Trust",
    )
    with app.app_context():
        db.session.execute(
            insert(Lead),
            [
                {
                    **base,
                    "updated_at": r["created_at"],
                    "consent_at": r["created_at"],
                    "email": f"{r['full_name'].replace(' ', '.').lower()}@x.example",
                    **r,
                }
                for r in rows
            ],
        )
        db.session.commit()


def names(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'<a href="/coach/leads/\d+">([^<]+)</a>', response.get_data(as_text=True))


def link(response, rel: str) -> str:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', response.get_data(as_text=True))
    return found.group(1).replace("&amp;", "&") if found else ""


def test_the_list_defaults_to_my_open_leads_with_a_way_to_see_all(app, signed_in, coach):
    with app.app_context():
        sam = add_coach("sam@example.org", "Sam Coach", now=utcnow()).id
    bulk(
        app,
        [
            dict(full_name="Mine Open", assigned_coach_id=coach, created_at=NOW),
            dict(
                full_name="Mine Closed",
                assigned_coach_id=coach,
                status=LeadStatus.CLOSED,
                created_at=NOW - timedelta(hours=1),
            ),
            dict(full_name="Sams Open", assigned_coach_id=sam, created_at=NOW - timedelta(hours=2)),
            dict(full_name="Nobodys", created_at=NOW - timedelta(hours=3)),
        ],
    )
    response = signed_in.get("/coach/leads")
    page = parse(response)
    assert names(response) == ["Mine Open"]
    assert "My open leads" in page.text
    assert 'href="/coach/leads?status=&amp;coach="' in page.html
    everything = signed_in.get("/coach/leads?status=&coach=")
    assert names(everything) == ["Mine Open", "Mine Closed", "Sams Open", "Nobodys"]
    # The form sends every filter, so "any" is an empty value and nothing falls back to "mine".
    assert names(signed_in.get("/coach/leads?q=open&status=&coach=&dimension=")) == [
        "Mine Open",
        "Sams Open",
    ]
    form = re.search(r'<form method="get"[^>]*>(.*?)</form>', page.html, re.S)
    assert form is not None
    for field in ("q", "status", "coach", "dimension"):
        assert f'name="{field}"' in form.group(1)


def test_status_filter_shows_counts_under_the_other_filters(app, signed_in, coach):
    with app.app_context():
        sam = add_coach("sam@example.org", "Sam Coach", now=utcnow()).id
    statuses = [LeadStatus.NEW, LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.CLOSED]
    bulk(
        app,
        [
            dict(
                full_name=f"Mine {i}",
                assigned_coach_id=coach,
                status=s,
                created_at=NOW - timedelta(minutes=i),
            )
            for i, s in enumerate(statuses)
        ]
        + [dict(full_name="Sams", assigned_coach_id=sam, created_at=NOW)],
    )
    text = parse(signed_in.get("/coach/leads?coach=me&status=new")).text
    for label in (
        "Any status (4)",
        "Any open status (3)",
        "New (2)",
        "Contacted (1)",
        "Closed (1)",
        "Agreed (0)",
    ):
        assert label in text, label
    assert "Any status (5)" in parse(signed_in.get("/coach/leads?status=&coach=")).text


def test_columns_sort_by_links_that_keep_the_filters(app, signed_in, coach):
    bulk(
        app,
        [
            dict(
                full_name="Old Busy",
                assigned_coach_id=coach,
                created_at=NOW - timedelta(days=3),
                updated_at=NOW - timedelta(minutes=5),
            ),
            dict(
                full_name="Middle Quiet",
                assigned_coach_id=coach,
                created_at=NOW - timedelta(days=2),
                updated_at=NOW - timedelta(days=2),
            ),
            dict(
                full_name="New Lead",
                assigned_coach_id=coach,
                created_at=NOW - timedelta(days=1),
                updated_at=NOW - timedelta(days=1),
            ),
        ],
    )
    base = "/coach/leads?status=open&coach=me&q=e"
    assert names(signed_in.get(base)) == ["New Lead", "Middle Quiet", "Old Busy"]
    assert names(signed_in.get(base + "&sort=registered&dir=asc")) == [
        "Old Busy",
        "Middle Quiet",
        "New Lead",
    ]
    assert names(signed_in.get(base + "&sort=activity")) == ["Old Busy", "New Lead", "Middle Quiet"]
    html = signed_in.get(base).get_data(as_text=True)
    assert (
        'aria-sort="descending"><a class="sort-link" '
        'href="/coach/leads?status=open&amp;coach=me&amp;q=e&amp;dir=asc"' in html
    )
    assert 'href="/coach/leads?status=open&amp;coach=me&amp;q=e&amp;sort=activity"' in html
    assert 'href="/coach/leads?status=open&amp;coach=me&amp;q=e&amp;sort=next"' in html
    assert html.count('aria-sort="none"') == 2
    assert "<caption" in html
    sorted_html = signed_in.get(base + "&sort=activity").get_data(as_text=True)
    assert re.search(r'aria-sort="descending"><a [^>]*sort=activity&amp;dir=asc"', sorted_html)
    # The form keeps the sort when the filters change.
    assert '<input type="hidden" name="sort" value="activity">' in sorted_html


def _book(app, coach_id: int, lead_id: int, start: datetime) -> CoachingSession:
    return agree_by_phone(lead_id, coach_id, start, now=NOW - timedelta(days=1))


def test_next_session_and_waiting_on_columns(app, signed_in, coach):
    earlier = NOW - timedelta(days=2)
    with app.app_context():
        ids = [add_lead(earlier, n, full_name=f"Leader {n}").id for n in range(1, 7)]
        me = db.session.get(Coach, coach)
        settings = current_settings()
        # 1: new. 2: times proposed. 3: booked, not answered. 4: booked, asked for a new time.
        # 5: booked and accepted. 6: booked, declined by the leader.
        propose_times(
            db.session.get(Lead, ids[1]),
            me,
            [slot((NOW + timedelta(days=30)).date(), 9)],
            NOW - timedelta(days=1),
            settings=settings,
        )
        db.session.commit()
        booked = {
            n: _book(app, coach, ids[n], NOW + timedelta(days=10 - n)).id for n in (2, 3, 4, 5)
        }
        leader_request_new_time(
            db.session.get(CoachingSession, booked[3]), "Later", NOW, settings=settings
        )
        record_partstat(
            db.session.get(CoachingSession, booked[4]),
            "leader",
            PartStat.ACCEPTED,
            NOW,
            "t",
            settings=settings,
        )
        record_partstat(
            db.session.get(CoachingSession, booked[5]),
            "leader",
            PartStat.DECLINED,
            NOW,
            "t",
            settings=settings,
        )
        db.session.commit()

    page = parse(signed_in.get("/coach/leads?status=&coach=&sort=registered&dir=asc"))
    rows = [" ".join(" ".join(row["text"]).split()) for row in page.all("tr")[1:]]
    assert len(rows) == 6
    assert "Coach New lead: make contact" in rows[0]
    assert "None booked" in rows[0]
    assert "Leader Times proposed, not yet chosen" in rows[1]
    assert "Leader Invitation not answered" in rows[2]
    assert "Thu 1 Apr, 11:00 BST" in rows[2]
    assert "Coach Asked for a new time" in rows[3]
    assert "– Booked" in rows[4]
    assert "Coach Declined: move or cancel the session" in rows[5]

    by_next = names(signed_in.get("/coach/leads?status=&coach=&sort=next"))
    assert by_next == ["Leader 6", "Leader 5", "Leader 4", "Leader 3", "Leader 1", "Leader 2"]
    latest_first = names(signed_in.get("/coach/leads?status=&coach=&sort=next&dir=desc"))
    assert latest_first[:4] == ["Leader 3", "Leader 4", "Leader 5", "Leader 6"]
    assert sorted(latest_first[4:]) == ["Leader 1", "Leader 2"]  # no session: last either way


@pytest.mark.parametrize("sort", ["registered", "activity", "next"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_keyset_pages_have_no_gaps_or_duplicates_where_keys_tie(
    app, signed_in, coach, sort, direction
):
    # 130 leads in three groups sharing one timestamp each: ties broken by id.
    bulk(
        app,
        [
            dict(
                full_name=f"Lead {i:03}",
                assigned_coach_id=coach,
                created_at=NOW - timedelta(hours=i % 3),
            )
            for i in range(130)
        ],
    )
    with app.app_context():
        expected = set(db.session.scalars(select(Lead.full_name)))
    url = f"/coach/leads?status=&coach=&q=Lead&sort={sort}&dir={direction}"
    seen: list[str] = []
    pages = []
    while url:
        response = signed_in.get(url)
        pages.append(names(response))
        seen += pages[-1]
        url = link(response, "next")
        if url:  # the next page keeps the filters and the sort
            assert url.startswith("/coach/leads?status=&coach=&q=Lead"), url
            assert (f"sort={sort}" in url) == (sort != "registered"), url
    assert [len(p) for p in pages] == [50, 50, 30]
    assert len(seen) == len(set(seen)) == 130 and set(seen) == expected
    # and back again
    response = signed_in.get(f"/coach/leads?status=&coach=&q=Lead&sort={sort}&dir={direction}")
    forward = [names(response)]
    for _ in range(2):
        response = signed_in.get(link(response, "next"))
        forward.append(names(response))
    back = signed_in.get(link(response, "prev"))
    assert names(back) == forward[1]
    back = signed_in.get(link(back, "prev"))
    assert names(back) == forward[0]
    assert link(back, "prev") == ""


def test_a_bad_cursor_is_the_first_page(app, signed_in, coach):
    bulk(app, [dict(full_name="Only One", assigned_coach_id=coach, created_at=NOW)])
    for cursor in ("x", "999999999999999999_1", "1_0", "-1_99999999999", "1_1_1"):
        assert names(signed_in.get(f"/coach/leads?after={cursor}")) == ["Only One"], cursor
        assert names(signed_in.get(f"/coach/leads?before={cursor}")) == ["Only One"], cursor


@pytest.mark.parametrize("sort", ["registered", "next"])
def test_list_statements_do_not_grow_with_the_rows(app, signed_in, coach, sort):
    def grow(start: int, count: int) -> None:
        with app.app_context():
            for n in range(start, start + count):
                lead = add_lead(NOW - timedelta(days=2), n)
                propose_times(
                    lead,
                    db.session.get(Coach, coach),
                    [slot((NOW + timedelta(days=40)).date(), 8)],
                    NOW - timedelta(days=1),
                    settings=current_settings(),
                )
                db.session.commit()
                if n % 2:
                    _book(app, coach, lead.id, NOW + timedelta(days=2, hours=n))

    path = f"/coach/leads?status=&coach=&sort={sort}"
    grow(1, 2)
    few = count_statements(app, signed_in, path)
    grow(10, 55)
    assert count_statements(app, signed_in, path) == few
    deeper = link(signed_in.get(path), "next")
    assert deeper and count_statements(app, signed_in, deeper) == few
