"""Charts as SVG, drawn on the server by pygal: the leader's before and after on the three
dimensions, and the reports' bar charts.

Why pygal: it writes SVG directly (no raster backend, no fonts to ship, pure Python with no
compiled dependencies), puts a <title> and <desc> in it, and draws values as text a reader
can find. matplotlib would do it too, at ten times the install and start-up cost.

The SVG carries its own <style>; the pages' Content-Security-Policy forbids inline styles, so
pages show it as an image from a data: URL (allowed by img-src), with the same numbers in a
table beside it for screen readers. No script: pygal's tooltips are left out (js=[]).
"""

from __future__ import annotations

import base64
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from functools import lru_cache

import pygal
from pygal.style import Style

# pygal appends a finder to sys.meta_path for its optional map plugins (pygal.maps.*), which
# we do not use. It has no find_spec, so every later failed import anywhere (an optional
# dependency probing) raises ImportWarning on Python 3.11+; take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

# The firm's two colours: before in grey, after in the site's green-blue; both pass 3:1
# against white (WCAG non-text contrast).
_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#0b0c0c",
    foreground_strong="#0b0c0c",
    foreground_subtle="#505a5f",
    colors=("#6f777b", "#00703c", "#1d70b8", "#d4351c"),
    font_family="Arial, Helvetica, sans-serif",
    title_font_size=18,
    label_font_size=14,
    major_label_font_size=14,
    legend_font_size=14,
    value_font_size=14,
    value_label_font_size=14,
    no_data_font_size=16,
)


def _config(title: str, labels: Sequence[str], **extra: object) -> pygal.Bar:
    chart = pygal.Bar(
        style=_STYLE,
        title=title,
        x_labels=list(labels),
        js=[],
        disable_xml_declaration=True,
        print_values=True,
        print_zeroes=True,
        show_y_guides=True,
        legend_at_bottom=True,
        width=640,
        height=360,
        explicit_size=False,
        truncate_label=-1,
        x_label_rotation=40 if len(labels) > 6 else 0,
        no_data_text="No figures to show (each is about fewer than 5 leaders, or none)",
        **extra,
    )
    return chart


def before_after_svg(
    labels: Sequence[str],
    before: Sequence[float | None],
    after: Sequence[float | None],
    *,
    scale_min: int,
    scale_max: int,
    title: str = "Before and after",
) -> str:
    """Bars per dimension, before (first) and after, on the questionnaire's scale."""
    chart = _config(title, labels, range=(0, scale_max), y_labels=list(range(0, scale_max + 1)))
    chart.add("Before", list(before))
    chart.add("After", list(after))
    return _without_scripts(str(chart.render(is_unicode=True)))


def bar_svg(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *, title: str
) -> str:
    """A plain bar chart (the reports): one bar per label and series; None draws nothing.
    The same figures draw the same picture, so a few recent ones are kept (pygal takes ~15 ms
    a chart; the reports page draws four, mostly unchanged since the last visit)."""
    return _bar_svg(tuple(labels), tuple((name, tuple(values)) for name, values in series), title)


@lru_cache(maxsize=64)
def _bar_svg(
    labels: tuple[str, ...], series: tuple[tuple[str, tuple[float | None, ...]], ...], title: str
) -> str:
    chart = _config(title, labels, show_legend=len(series) > 1)
    for name, values in series:
        chart.add(name, list(values))
    return _without_scripts(str(chart.render(is_unicode=True)))


SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")


def _without_scripts(svg: str) -> str:
    """pygal always writes a small config <script>; the charts are static pictures."""
    root = ET.fromstring(svg)
    for parent in root.iter():
        for child in list(parent):
            if child.tag == f"{{{SVG_NS}}}script":
                parent.remove(child)
    return ET.tostring(root, encoding="unicode")


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


__all__ = ["bar_svg", "before_after_svg", "data_uri"]
