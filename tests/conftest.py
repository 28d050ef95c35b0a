"""Shared fixtures, and the contract every test module can rely on.

Fixtures (function-scoped unless said otherwise):
- `database_url`: a migrated, empty database of this test's own. SQLite: a copy of a template
  migrated once per session (in /dev/shm when there is one), removed after the test; other
  processes (gunicorn, `flask outbox work`) may open it. PostgreSQL (TEST_DATABASE_URL): the
  session's database with every table emptied before the test (under pytest-xdist each worker
  has its own database, the given name + "_gw0", "_gw1", ...).
- `make_app(**overrides)`: a new app (`create_app`) on `database_url` with the test settings
  (`base_config`) plus `overrides`; each call builds a separate app, so a setting passed here is
  the app's from the start. Apps are torn down (sessions removed, engines disposed) after the test.
- `app`: `make_app()`. `app_ctx`: `app` with an app context pushed. `client`: its test client.
- What one test commits, a fresh session or another connection in the same test sees (a real
  database, no wrapping transaction); no test sees another's rows, mail, clock or settings.
- `now`: a fixed aware datetime (2026-11-30 10:00 UTC). `smtp_server`: a real SMTP server on
  loopback (tests/smtp.py), stopped after the test.
- `site_pages`: every page with data that stretches it (tests/site_pages.py). Browser fixtures
  (`browser`, `browser_page`, `new_browser_page`, `live_url`): tests/browser.py.
Helpers: `submit_registration`, `valid_registration`, `hidden_fields`, `parse` (a page read by
its labels), `count_rows`; coach and session helpers in coach_helpers.py, invite_helpers.py,
linked_rows.py.

The database is always built by running the real Alembic migrations (never `create_all`), so a
migration that drifts from the models fails the suite.

Every test gets its own app, but the costly, unchanging parts of building one are shared across
the session: compiled Jinja templates (code objects, keyed by each template's source checksum),
Werkzeug's parse of each URL rule and its compiled URL builders (keyed by the rule) and
SQLAlchemy's compiled statements (keyed by dialect and engine options). Building an app and
copying the database costs ~6 ms a test. What exists once the tests are
collected is frozen out of the garbage collector's full passes (`gc.freeze`).

Tiers: tests using the browser fixtures are marked `browser` automatically, live in
test_browser_*.py modules and run last in one process (one Chromium for the session); real-server
tests that take seconds are marked `slow`. `make test-fast` runs `-m "not browser and not slow"`.
Under pytest-xdist (`make test`) all browser tests run on one worker, with one Chromium, while the
other takes the rest, slow ones first (see `pytest_xdist_make_scheduler`).
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import Engine, create_engine, make_url, text

from booking import create_app
from booking.extensions import db

from .smtp import SMTPTestServer

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
USING_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
# Under pytest-xdist (`-n 2`) each worker process is "gw0", "gw1", ...: on PostgreSQL each gets a
# database of its own (the given one's name + "_gw0"), so workers never empty each other's.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

# Real servers (SMTP, IMAP, CalDAV, gunicorn) get this long to answer: a busy machine (CI, or
# eight test runs on two cores) must slow the suite down, never fail it.
SERVER_TIMEOUT = 30.0


class _SharedTemplateCache(BytecodeCache):
    """Compiled Jinja templates kept in memory for the whole test session.

    Compiling a template costs tens of milliseconds and each new app has a fresh Jinja
    environment, so without this every test compiled every template it rendered again. The
    code objects themselves are kept (immutable, so any app can run them), not marshalled
    bytes to be read back for every app. Each entry is checked against the template source's
    checksum, so an edited template is recompiled, never served stale.
    """

    def __init__(self) -> None:
        self.store: dict[str, tuple[str, Any]] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        checksum, code = self.store.get(bucket.key, (None, None))
        if checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.store[bucket.key] = (bucket.checksum, bucket.code)


TEMPLATE_CACHE = _SharedTemplateCache()


def _share_url_builders() -> None:
    """Reuse Werkzeug's compiled URL builders across apps.

    Werkzeug compiles two small Python functions per URL rule (AST, then `compile`) each time a
    rule is added to an app: most of `create_app`'s time. The function depends only on the
    rule's text, its parsed parts, its defaults and converters (it reads the rule's converters
    through its first argument at call time), so one compiled per distinct rule serves every app.
    Left alone if Werkzeug's internals have changed shape.
    """
    from werkzeug.routing.rules import Rule

    original = getattr(Rule, "_compile_builder", None)
    if original is None or getattr(original, "shared_across_apps", False):
        return
    compiled: dict[tuple[Any, ...], Any] = {}

    def compile_builder(self: Rule, append_unknown: bool = True) -> Any:
        try:
            key = (
                self.rule,
                self.host,
                self.subdomain,
                tuple(self._trace),
                repr(sorted((self.defaults or {}).items())),
                tuple((name, type(conv)) for name, conv in self._converters.items()),
                append_unknown,
            )
            hash(key)
        except (AttributeError, TypeError):
            return original(self, append_unknown)
        if key not in compiled:
            compiled[key] = original(self, append_unknown)
        return compiled[key]

    compile_builder.shared_across_apps = True  # type: ignore[attr-defined]
    Rule._compile_builder = compile_builder  # type: ignore[method-assign]


_share_url_builders()


def _share_parsed_rules() -> None:
    """Reuse Werkzeug's parse of each URL rule across apps.

    Adding a rule to an app parses its text into parts (regular expressions and weights for
    matching) and converters: again for each of the ~60 rules of every app a test builds. The
    result depends only on the rule's text and the map's converter classes; the parts are only
    read afterwards, and the converters keep nothing but their arguments (int, string, the
    app's database-id one), so one parse serves every app. Left alone if Werkzeug's internals
    have changed shape.
    """
    from werkzeug.routing.rules import Rule

    original = getattr(Rule, "_parse_rule", None)
    if original is None or getattr(original, "shared_across_apps", False):
        return
    parsed: dict[tuple[Any, ...], tuple[list[Any], list[Any], dict[str, Any]]] = {}

    def parse_rule(self: Rule, rule: str) -> Iterator[Any]:
        try:
            converters = sorted(self.map.converters.items(), key=lambda item: item[0])
            key = (rule, tuple(converters))
            hash(key)
            trace_from, known = len(self._trace), set(self._converters)
        except (AttributeError, TypeError):
            return original(self, rule)  # type: ignore[no-any-return]
        if key not in parsed:
            parts = list(original(self, rule))
            added = {name: c for name, c in self._converters.items() if name not in known}
            parsed[key] = (parts, self._trace[trace_from:], added)
            return iter(parts)
        parts, trace, added = parsed[key]
        self._trace.extend(trace)
        self._converters.update(added)
        self.arguments.update(added)
        return iter(parts)

    parse_rule.shared_across_apps = True  # type: ignore[attr-defined]
    Rule._parse_rule = parse_rule  # type: ignore[method-assign, assignment]


_share_parsed_rules()

# Hypothesis: random examples on a developer's machine; under CI the same fixed sequence every
# run, so a CI failure is never a roll of the dice and always reproduces.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

BROWSER_FIXTURES = {"browser", "browser_page", "new_browser_page"}
# Fixtures that start a real server process (seconds each, more on a busy machine).
SLOW_FIXTURES = {"gunicorn_server", "imap_server", "radicale_url"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ files from what the code produces now (or UPDATE_GOLDEN=1)",
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """Leave what exists once the tests are collected (the modules, classes and functions of
    the app, its libraries and the tests, ~200,000 objects) out of the garbage collector's
    full passes, which walked all of them again each time: the collector's share of the quick
    tier's CPU goes from ~8% to ~6%. Garbage made by the tests is collected as before."""
    gc.collect()
    gc.freeze()


def _is(item: pytest.Item, marker: str) -> bool:
    return item.get_closest_marker(marker) is not None


BROWSER_MODULE_PREFIX = "test_browser_"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that drives Chromium `browser` and every one that starts a server process
    `slow`. In one process the browser tests run last: the quick tiers report before them.

    Browser tests live in modules named test_browser_*.py (checked here), so that under
    pytest-xdist all of them run on one worker with one Chromium (`pytest_xdist_make_scheduler`),
    while the other worker takes everything else. There the browser tests, then the slow ones,
    come first: the workers take tests in this order as each finishes one, so the quick ones
    fill in at the end instead of one worker finishing a long test alone while the other waits.
    """
    misplaced = []
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if BROWSER_FIXTURES & fixtures:
            item.add_marker(pytest.mark.browser)
            if not item.path.name.startswith(BROWSER_MODULE_PREFIX):
                misplaced.append(item.nodeid)
        if SLOW_FIXTURES & fixtures:
            item.add_marker(pytest.mark.slow)
    if misplaced:
        raise pytest.UsageError(
            f"tests that drive Chromium belong in a {BROWSER_MODULE_PREFIX}*.py module (one worker"
            f" runs them all, with one browser): {', '.join(misplaced)}"
        )
    if XDIST_WORKER:
        items.sort(key=lambda item: (not _is(item, "browser"), not _is(item, "slow")))
    else:
        items.sort(key=lambda item: _is(item, "browser"))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `--dist loadgroup`, every test in a test_browser_*.py module goes to one worker
    (one Chromium for the run, started once); every other test to whichever worker is free.

    This replaces the `xdist_group` mark, which pytest-xdist 3.8 carries in the test's node id:
    pytest 9.2 no longer reads a node id changed that way, so the group was silently ignored and
    each worker started a Chromium of its own (pytest-dev/pytest-xdist#1386). The controller
    sees only node ids, so the group is read from the module's name."""
    if config.getoption("dist", None) != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class BrowserTestsTogether(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if Path(nodeid.split("::", 1)[0]).name.startswith(BROWSER_MODULE_PREFIX):
                return "browser"
            return str(super()._split_scope(nodeid))

    return BrowserTestsTogether(config, log)


# SQLAlchemy caches compiled SQL per engine, keyed by the engine's dialect object, so each
# test's fresh engine compiled every statement again (a third of a workflow test's CPU).
# Engines with the same driver and engine options share the first one's dialect and
# compiled-statement cache.
_SHARED_SQL: dict[tuple[str, str], tuple[Any, Any]] = {}


def _share_compiled_sql(app: Flask, engine: Any) -> None:
    options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
    kind = (engine.url.drivername, repr(sorted(options.items())))
    if kind not in _SHARED_SQL:
        _SHARED_SQL[kind] = (engine.dialect, engine._compiled_cache)
        return
    dialect, cache = _SHARED_SQL[kind]
    if type(dialect) is type(engine.dialect) and cache is not None:
        engine.dialect = dialect
        engine._compiled_cache = cache


def _build_app(config: dict[str, Any]) -> Flask:
    app = create_app(config)
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE
    with app.app_context():
        _share_compiled_sql(app, db.engine)
    return app


def _postgres_reachable(url: str) -> str | None:
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as error:  # any failure: say why and skip (or fail under REQUIRE_POSTGRES)
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"


def base_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "MAIL_SERVER": "",
        "MAIL_CAPTURE_DIR": str(tmp_path / "mail"),
        "MAIL_DEFAULT_SENDER": "Compassionate Leadership Coaching <coaching@example.org>",
        "COACH_NOTIFY_EMAILS": [],
        "BASE_URL": "http://booking.test",
        "FORM_MIN_SECONDS": 0,
        "RATELIMIT_STORAGE_URI": "swept-memory://",
        "OUTBOX_BACKOFF_BASE_SECONDS": 30.0,
        "MAIL_TIMEOUT": SERVER_TIMEOUT,
        "PRIVACY_NOTICE_FILE": str(tmp_path / "privacy.txt"),
        # Cheap Argon2id for tests (coach_helpers.FAST_HASHING); production: argon2-cffi's.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "ARGON2_PARALLELISM": 1,
    }


def _migrate(url: str, tmp_path: Path) -> None:
    from flask_migrate import upgrade

    app = _build_app(base_config(url, tmp_path))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database: a template SQLite file's path, or the PostgreSQL URL."""
    tmp = tmp_path_factory.mktemp("db")
    if USING_POSTGRES:
        problem = _postgres_reachable(TEST_DATABASE_URL)
        if problem:
            if os.environ.get("REQUIRE_POSTGRES"):
                pytest.fail(
                    f"PostgreSQL at TEST_DATABASE_URL is required but unreachable: {problem}"
                )
            pytest.skip(f"PostgreSQL at TEST_DATABASE_URL unreachable: {problem}")
        url = _worker_database(TEST_DATABASE_URL, XDIST_WORKER)
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _migrate(url, tmp)
        return url
    template = tmp / "template.sqlite3"
    _migrate(f"sqlite:///{template}", tmp)
    return str(template)


def _worker_database(url: str, worker: str) -> str:
    """The PostgreSQL database this test process uses: `url` itself, or under an xdist worker a
    sibling database named after the worker, created on first use."""
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.scalar(
            text("select 1 from pg_database where datname = :name"), {"name": name}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = [
            row[0]
            for row in connection.execute(
                text(
                    "select tablename from pg_tables where schemaname = 'public' "
                    "and tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


def _memory_backed_dir() -> Path | None:
    """/dev/shm when the machine has it: a file there is a real SQLite file (WAL, locks, other
    processes opening it) but creating, committing to and closing it costs no disk flush."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


@pytest.fixture(scope="session")
def sqlite_copies_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where each test's copy of the SQLite template lives (removed after the session)."""
    shm = _memory_backed_dir()
    if shm is None:
        yield tmp_path_factory.mktemp("databases")
        return
    folder = Path(tempfile.mkdtemp(prefix="booking-tests-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database_url(database_template: str, sqlite_copies_dir: Path) -> Iterator[str]:
    if USING_POSTGRES:
        _empty_postgres(database_template)
        yield database_template
        return
    folder = Path(tempfile.mkdtemp(dir=sqlite_copies_dir))
    target = folder / "test.sqlite3"
    shutil.copyfile(database_template, target)
    yield f"sqlite:///{target}"
    # Every app and server process of the test has been torn down by now (they depend on this
    # fixture); the copy and its WAL files go, so memory does not fill with old databases.
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def make_app(database_url: str, tmp_path: Path):
    """Build an app with extra settings; every app made is torn down after the test."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        config = base_config(database_url, tmp_path)
        config.update(overrides)
        app = _build_app(config)
        apps.append(app)
        return app

    yield factory
    counts = None
    for app in apps:
        with app.app_context():
            db.session.remove()
            if counts is None:
                # On the app's own engine: a new engine for two queries cost more than both.
                counts = lead_counts(db.engine)
            db.engine.dispose()
    if counts is not None:
        kept, counted = counts
        # Whatever the test did to leads (the workflow, the pages, an erasure, raw SQL), the
        # counts beside the list's status filter still agree with the leads: a write that
        # got past the triggers would show here.
        assert kept == counted, "lead_count has drifted from the leads"


Counts = dict[tuple[str, int, str], int]


def lead_counts(database: str | Engine) -> tuple[Counts, Counts]:
    """The list's counts table (lead_count, kept by triggers: migration 0018) and the same
    numbers counted from the leads themselves, zeros left out: from a database URL, or on an
    engine already open."""
    engine = create_engine(database) if isinstance(database, str) else database
    try:
        with engine.connect() as connection:
            kept = connection.execute(
                text("select status, coach_id, dimensions, n from lead_count where n <> 0")
            ).all()
            counted = connection.execute(
                text(
                    "select status, coalesce(assigned_coach_id, 0), dimensions, count(*) "
                    "from lead group by status, coalesce(assigned_coach_id, 0), dimensions"
                )
            ).all()
    finally:
        if engine is not database:
            engine.dispose()
    return (
        {(s, int(c), d): int(n) for s, c, d, n in kept},
        {(s, int(c), d): int(n) for s, c, d, n in counted},
    )


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def smtp_server() -> Iterator[SMTPTestServer]:
    server = SMTPTestServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


# ----- helpers for page tests -------------------------------------------------------------

HIDDEN_INPUT = re.compile(r'<input[^>]*name="(?P<name>[^"]+)"[^>]*value="(?P<value>[^"]*)"')


def hidden_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        if 'type="hidden"' in tag:
            match = HIDDEN_INPUT.search(tag)
            if match:
                fields[match["name"]] = match["value"]
    return fields


def valid_registration(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "full_name": "Siân O'Brien-Smith",
        "email": "sian.obrien@nhs.example",
        "phone": "07911 123456",
        "organisation": "Northfield Community Trust",
        "role": "Ward manager",
        "dimensions": ["compassionate", "practical"],
        "help_text": "Leading a team through a hard winter.",
        "preferred_format": "video",
        "availability": "Tuesday mornings",
        "consent": "y",
    }
    data.update(overrides)
    return data


def submit_registration(client: FlaskClient, **overrides: Any):
    """Load the form as a browser would (CSRF + form token), then post it."""
    page = client.get("/")
    data = hidden_fields(page.get_data(as_text=True))
    data.update(valid_registration(**overrides))
    return client.post("/", data=data)


# ----- reading pages as a person (or a screen reader) would: by label ---------------------

from html.parser import HTMLParser  # noqa: E402

VOID_TAGS = {"input", "br", "img", "meta", "link", "hr", "area", "base", "col", "source", "wbr"}


class Page(HTMLParser):
    """A small read-only view of an HTML page: elements with their attributes, labels by text.

    Enough to find a field by its <label> text, check what it holds, and follow an anchor,
    without a third-party HTML library.
    """

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.elements: list[dict[str, Any]] = []
        self.labels: list[tuple[str, str | None]] = []  # (text, for)
        self._open: list[dict[str, Any]] = []
        self._text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {
            "tag": tag,
            "attrs": {k: (v if v is not None else "") for k, v in attrs},
            "text": [],
        }
        self.elements.append(element)
        if tag not in VOID_TAGS:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index]["tag"] == tag:
                element = self._open.pop(index)
                del self._open[index:]
                if tag == "label":
                    self.labels.append(
                        (_squash("".join(element["text"])), element["attrs"].get("for"))
                    )
                return

    def handle_data(self, data: str) -> None:
        if not any(e["tag"] in {"script", "style"} for e in self._open):
            self._text.append(data)
        for element in self._open:
            element["text"].append(data)

    @property
    def text(self) -> str:
        """The visible text, whitespace squashed."""
        return _squash(" ".join(self._text))

    def by_id(self, element_id: str) -> dict[str, Any] | None:
        return next((e for e in self.elements if e["attrs"].get("id") == element_id), None)

    def all(self, tag: str, **attrs: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.elements
            if e["tag"] == tag and all(e["attrs"].get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def field(self, label_text: str) -> dict[str, Any]:
        """The form control whose <label for> has exactly this text (hidden 'Error:' aside)."""
        matches = [for_id for text, for_id in self.labels if text == label_text]
        assert len(matches) == 1, f"expected one label {label_text!r}, labels are {self.labels}"
        assert matches[0], f"label {label_text!r} has no for= attribute"
        element = self.by_id(matches[0])
        assert element is not None, f"label {label_text!r} points at missing id {matches[0]!r}"
        assert element["tag"] in {"input", "textarea", "select"}, element
        return element

    def value(self, label_text: str) -> str:
        element = self.field(label_text)
        if element["tag"] == "textarea":
            # As a browser reads it: newlines normalised, the one after <textarea> dropped.
            value = "".join(element["text"]).replace("\r\n", "\n")
            return value[1:] if value.startswith("\n") else value
        return str(element["attrs"].get("value", ""))

    def checked(self, label_text: str) -> bool:
        return "checked" in self.field(label_text)["attrs"]


def _squash(value: str) -> str:
    return " ".join(value.split())


def parse(response_or_html: Any) -> Page:
    html = (
        response_or_html
        if isinstance(response_or_html, str)
        else response_or_html.get_data(as_text=True)
    )
    return Page(html)


def count_rows(app: Flask, model: Any) -> int:
    from sqlalchemy import func, select

    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)))


# ----- browser tests: see tests/browser.py --------------------------------------------------

from .browser import browser, browser_page, live_url, new_browser_page  # noqa: E402, F401

# Every page, with data that stretches it, for the checks that walk them all (site_pages.py).
from .site_pages import site_pages  # noqa: E402, F401
