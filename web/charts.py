"""Server-rendered SVG charts (pygal): no script, no remote font or stylesheet, so pages work offline."""

from __future__ import annotations

import pygal
from pygal.style import Style

from models.scorecard import DepartmentScore, WeekFlow

_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#333333",
    foreground_strong="#1a1a1a",
    foreground_subtle="#888888",
    colors=("#b8232f", "#1f5f99", "#d08a1c", "#3c8d5a"),
    font_family="'Noto Sans CJK SC', 'Microsoft YaHei', 'WenQuanYi Micro Hei', sans-serif",
    title_font_size=16,
    label_font_size=12,
    legend_font_size=12,
    major_label_font_size=12,
)


def _config(title: str) -> dict[str, object]:
    # js=[]: pygal otherwise links its tooltip script from a remote site.
    return {
        "title": title,
        "style": _STYLE,
        "js": [],
        "width": 640,
        "height": 320,
        "explicit_size": True,
        "legend_at_bottom": True,
        "print_values": False,
        "show_y_guides": True,
        "no_data_text": "暂无数据",
    }


def _count_axis(top: int) -> list[int]:
    """Whole-number ticks: pygal would otherwise label a count axis 0.1, 0.2, …"""
    step = max(1, -(-top // 5))
    return list(range(0, max(top, 1) + step, step))


def weekly_chart(rows: list[WeekFlow]) -> bytes:
    chart = pygal.Bar(**_config("每周新登记与办结投诉（件）"), x_label_rotation=0)
    chart.x_labels = [r.week_start.strftime("%m-%d") for r in rows]
    chart.y_labels = _count_axis(max([r.opened for r in rows] + [r.closed for r in rows] + [0]))
    chart.add("新登记", [r.opened for r in rows])
    chart.add("办结", [r.closed for r in rows])
    return bytes(chart.render())


def on_time_chart(rows: list[DepartmentScore]) -> bytes:
    chart = pygal.HorizontalBar(**_config("各部门按时办理率（%）"), range=(0, 100))
    chart.x_labels = [r.name for r in rows]
    chart.add(
        "按时办理率", [round(r.on_time_rate * 100, 1) if r.on_time_rate is not None else None for r in rows]
    )
    return bytes(chart.render())


def breaches_chart(rows: list[tuple[str, int, int]]) -> bytes:
    chart = pygal.StackedBar(**_config("每月失信记录（件）"), x_label_rotation=30)
    chart.x_labels = [month for month, _, _ in rows]
    chart.y_labels = _count_axis(max([p + c for _, p, c in rows] + [0]))
    chart.add("承诺失信公示", [p for _, p, _ in rows])
    chart.add("政府违约失信确认", [c for _, _, c in rows])
    return bytes(chart.render())
