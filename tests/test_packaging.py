"""The service as a package: the wheel carries templates/ and migrations/ (as booking/templates
and booking/migrations), so `pip install .` then `flask db upgrade` and gunicorn work from any
directory, without the checkout.

Building and installing the wheel for real takes a fresh virtualenv and most of a minute, so
that is a step of .ci/run (.ci/package-check), not a test here; this test keeps the mapping in
pyproject.toml complete as folders are added."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _packages() -> set[str]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return set(tomllib.load(file)["tool"]["setuptools"]["packages"])


@pytest.mark.parametrize("folder", ["templates", "migrations", "booking"])
def test_every_data_folder_is_listed_as_a_package(folder):
    """setuptools ships a folder's files only if the folder is listed in `packages`."""
    listed = _packages()
    base = ROOT / folder
    prefix = "booking" if folder == "booking" else f"booking.{folder}"
    missing = [
        prefix + "".join(f".{part}" for part in path.relative_to(base).parts)
        for path in [base, *sorted(p for p in base.rglob("*") if p.is_dir())]
        if path.name != "__pycache__" and any(f.is_file() for f in path.iterdir())
    ]
    missing = [name for name in missing if name not in listed]
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"
