"""Static file URLs carry a hash of the file's content (`/static/site.css?v=3f2a…`).

So a proxy or browser may keep a static file for a year (deploy/nginx/booking.conf does): a
file that changes gets a new URL at the next release, and nobody sees old CSS with new pages.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask


def register_asset_versions(app: Flask) -> None:
    versions: dict[str, str] = {}
    folder = Path(app.static_folder or "")

    def version_of(filename: str) -> str | None:
        # In debug mode files change under a running server: hash them every time.
        if filename not in versions or app.debug:
            try:
                content = (folder / filename).read_bytes()
            except OSError:
                return None
            versions[filename] = hashlib.sha256(content).hexdigest()[:12]
        return versions[filename]

    @app.url_defaults
    def add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values:
            version = version_of(str(values.get("filename", "")))
            if version:
                values["v"] = version
