"""Server-rendered SVG charts (pygal): no script, no remote font or stylesheet, so pages work offline.

Each chart comes in two sizes: 640 px wide for a desktop, and ``narrow`` (360 px, larger type) for a
phone, which the pages pick with ``<picture>`` so a 390 px screen never shrinks the desktop drawing.
pygal sizes its margins for Latin text (0.6 em a character); Chinese characters are a full em wide, so
the label margin is widened to fit, or the first characters of a long department name fall off the edge.
"""

from __future__ import annotations

import math

import pygal
from pygal.style import Style

from models.scorecard import DepartmentScore, WeekFlow

_FONT = "'Noto Sans CJK SC', 'Microsoft YaHei', 'WenQuanYi Micro Hei', sans-serif"
_COLORS = ("#b8232f", "#1f5f99", "#d08a1c", "#3c8d5a")
# pygal's estimate of a character's width, in em (pygal.util.text_len).
_PYGAL_EM = 0.6
# The longest department name drawn in full; longer ones end in "…" (the scorecard table has them whole).
LABEL_CHARS = {False: 16, True: 8}


def _style(narrow: bool) -> Style:
    size = 14 if narrow else 12
    return Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#333333",
        foreground_strong="#1a1a1a",
        foreground_subtle="#888888",
        colors=_COLORS,
        font_family=_FONT,
        title_font_size=15 if narrow else 16,
        label_font_size=size,
        legend_font_size=size,
        major_label_font_size=size,
    )


def _config(title: str, narrow: bool, height: int | None = None) -> dict[str, object]:
    # js=[]: pygal otherwise links its tooltip script from a remote site.
    return {
        "title": title,
        "style": _style(narrow),
        "js": [],
        "width": 360 if narrow else 640,
        "height": height or (300 if narrow else 320),
        "explicit_size": True,
        "legend_at_bottom": True,
        "print_values": False,
        "show_y_guides": True,
        "no_data_text": "暂无数据",
        "truncate_label": -1,  # labels are shortened here, where the width of a Chinese character is known
        "truncate_legend": -1,
    }


def short_label(name: str, narrow: bool) -> str:
    limit = LABEL_CHARS[narrow]
    return name if len(name) <= limit else name[: limit - 1] + "…"


def cjk_margin(labels: list[str], font_size: int) -> int:
    """The left margin pygal leaves out for ``labels`` drawn beside the axis: the part of their real
    width (a Chinese character is 1 em) its own 0.6-em estimate does not cover."""
    widest = max((sum(1.0 if ord(ch) > 0x2E80 else _PYGAL_EM for ch in label) for label in labels), default=0)
    longest = max((len(label) for label in labels), default=0)
    return math.ceil((widest - longest * _PYGAL_EM) * font_size) + 4


def _count_axis(top: int) -> list[int]:
    """Whole-number ticks: pygal would otherwise label a count axis 0.1, 0.2, …"""
    step = max(1, -(-top // 5))
    return list(range(0, max(top, 1) + step, step))


def weekly_chart(rows: list[WeekFlow], *, narrow: bool = False) -> bytes:
    chart = pygal.Bar(**_config("每周新登记与办结投诉（件）", narrow), x_label_rotation=45 if narrow else 0)
    chart.x_labels = [r.week_start.strftime("%m-%d") for r in rows]
    chart.y_labels = _count_axis(max([r.opened for r in rows] + [r.closed for r in rows] + [0]))
    chart.add("新登记", [r.opened for r in rows])
    chart.add("办结", [r.closed for r in rows])
    return bytes(chart.render())


def on_time_chart(rows: list[DepartmentScore], *, narrow: bool = False) -> bytes:
    rated = [r for r in rows if r.on_time_rate is not None]  # a department that led no case has no rate
    labels = [short_label(r.name, narrow) for r in rated]
    font = _style(narrow).label_font_size
    height = max(300 if narrow else 320, 110 + (34 if narrow else 28) * len(rated))
    chart = pygal.HorizontalBar(
        **_config("各部门按时办理率（%）", narrow, height),
        range=(0, 100),
        margin_left=cjk_margin(labels, font),
    )
    chart.x_labels = labels
    chart.add("按时办理率", [round((r.on_time_rate or 0) * 100, 1) for r in rated])
    return bytes(chart.render())


def breaches_chart(rows: list[tuple[str, int, int]], *, narrow: bool = False) -> bytes:
    chart = pygal.StackedBar(**_config("每月失信记录（件）", narrow), x_label_rotation=60 if narrow else 30)
    chart.x_labels = [month[2:] if narrow else month for month, _, _ in rows]
    chart.y_labels = _count_axis(max([p + c for _, p, c in rows] + [0]))
    chart.add("承诺失信公示", [p for _, p, _ in rows])
    chart.add("政府违约失信确认", [c for _, _, c in rows])
    return bytes(chart.render())
