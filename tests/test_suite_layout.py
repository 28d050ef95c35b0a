"""The suite's own rules for where tests live and how xdist spreads them (tests/conftest.py):
every browser test in a test_browser_*.py module, and all of those on one worker."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from .conftest import pytest_collection_modifyitems, pytest_xdist_make_scheduler


class _Item(SimpleNamespace):
    def add_marker(self, marker: pytest.MarkDecorator) -> None:
        self.marks.append(marker.name)

    def get_closest_marker(self, name: str) -> str | None:
        return name if name in self.marks else None


def _item(path: str, *fixtures: str) -> _Item:
    return _Item(path=Path(path), nodeid=f"{path}::test_x", fixturenames=fixtures, marks=[])


def test_a_browser_test_outside_a_browser_module_stops_collection(pytestconfig):
    placed = _item("tests/test_browser_csp.py", "browser_page")
    misplaced = _item("tests/test_public_pages.py", "new_browser_page")
    with pytest.raises(pytest.UsageError, match="test_public_pages.py::test_x"):
        pytest_collection_modifyitems(pytestconfig, [placed, misplaced])


def test_tests_are_marked_by_the_fixtures_they_use(pytestconfig):
    browser, slow = (
        _item("tests/test_browser_csp.py", "browser_page"),
        _item("tests/t.py", "imap_server"),
    )
    pytest_collection_modifyitems(pytestconfig, [browser, slow])
    assert (browser.marks, slow.marks) == (["browser"], ["slow"])


def test_under_loadgroup_every_browser_module_is_one_unit_of_work(pytestconfig, monkeypatch):
    monkeypatch.setattr(pytestconfig.option, "dist", "no", raising=False)
    assert pytest_xdist_make_scheduler(pytestconfig, None) is None
    monkeypatch.setattr(pytestconfig.option, "dist", "loadgroup", raising=False)
    monkeypatch.setattr(pytestconfig.option, "maxschedchunk", None, raising=False)
    monkeypatch.setattr(pytestconfig.option, "tx", ["2*popen"], raising=False)
    scheduler = pytest_xdist_make_scheduler(pytestconfig, None)
    scopes = {
        scheduler._split_scope(nodeid)
        for nodeid in (
            "tests/test_browser_csp.py::test_no_page_breaks_the_policy",
            "tests/test_browser_registration.py::test_page_fits[320-640]",
        )
    }
    assert scopes == {"browser"}
    other = "tests/test_public_pages.py::test_home"
    assert scheduler._split_scope(other) == other
