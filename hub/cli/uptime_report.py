"""``hub reports uptime``: the records it prints and the self-contained HTML page it writes
(inline SVG only: no script, no stylesheet or font from the network, so a state DOT reviewer
can open the file offline)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any

from hub.domain.ledger import BUDGET_MINUTES, PortHistory, budget_left, operated_minutes, share_up
from hub.domain.uptime import YEAR_MINUTES, Outage, OutageCause, PortUptime

if TYPE_CHECKING:
    from hub.services.uptime import PortReport


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def net(uptime: PortUptime) -> Decimal:
    return uptime.outage_minutes - uptime.excluded_minutes


def provisional(history: PortHistory, uptime: PortUptime) -> Decimal | None:
    """A first-year port's share of its operated minutes up (not the rule's mu)."""
    operated = operated_minutes(history, uptime.window_start, uptime.window_end)
    return share_up(net(uptime), operated)


def month_share(history: PortHistory, month: PortUptime) -> Decimal | None:
    """A calendar month's availability: (operated minutes - net outage) / operated."""
    if month.missing_history and history.commissioned_at is None:
        return None
    operated = operated_minutes(history, month.window_start, month.window_end)
    return share_up(net(month), operated)


@dataclass(frozen=True, slots=True)
class ReportRow:
    report: PortReport

    @property
    def record(self) -> dict[str, Any]:
        year, history = self.report.year, self.report.history
        first_year = self.report.first_year
        return {
            "station_id": year.station_id,
            "port_id": year.port_id,
            "window_start": _iso(year.window_start),
            "window_end": _iso(year.window_end),
            "uptime": None if year.uptime is None else str(year.uptime),
            "first_year": first_year,
            "provisional_uptime": (
                None
                if not first_year or year.missing_history
                else _text(provisional(history, year))
            ),
            "outage_minutes": str(year.outage_minutes),
            "excluded_minutes": str(year.excluded_minutes),
            "net_outage_minutes": str(net(year)),
            "budget_left_minutes": None if year.missing_history else str(budget_left(year)),
            "missing_history": year.missing_history,
            "commissioned_at": _iso(history.commissioned_at),
            "outages": len(self.report.outages),
            "months": [
                {
                    "month": m.window_start.strftime("%Y-%m"),
                    "availability": _text(month_share(history, m)),
                    "outage_minutes": str(m.outage_minutes),
                    "excluded_minutes": str(m.excluded_minutes),
                }
                for m in self.report.months
            ],
        }

    def below(self, threshold: Decimal) -> bool:
        """Listed by ``--below``: mu (or a first-year port's provisional figure) under the
        threshold, or not known because history is missing."""
        year = self.report.year
        if year.missing_history:
            return True
        figure = year.uptime
        if figure is None:
            figure = provisional(self.report.history, year)
        return figure is not None and figure < threshold


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# -- the HTML page --------------------------------------------------------------------------------

CAUSE_COLOURS = {
    OutageCause.OUT_OF_ORDER: "#c62828",
    OutageCause.INOPERATIVE: "#ef6c00",
    OutageCause.STATION_OFFLINE: "#6a1b9a",
    OutageCause.NO_ENERGY: "#1565c0",
}
PORT_COLOURS = ("#1b5e20", "#0d47a1", "#b71c1c", "#4a148c", "#e65100", "#006064", "#3e2723")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f3f3f3; } td.id { text-align: left; font-family: monospace; }
tr.below td { background: #fdecea; } tr.missing td { background: #fff8e1; }
section.station { margin-top: 2em; } .note { color: #555; max-width: 60em; }
svg text { font-size: 11px; fill: #333; }
"""


def render_html(rows: Sequence[ReportRow], *, as_of: datetime, threshold: Decimal) -> str:
    """The whole page: the table of ports, then per station the monthly availability of its
    ports and the timeline of its outages over the rule's year."""
    records = [row.record for row in rows]
    window = (
        f"{records[0]['window_start']} to {records[0]['window_end']}" if records else _iso(as_of)
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>NEVI uptime report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>NEVI uptime report (23 CFR 680.116(b))</h1>",
        f'<p class="note">Generated for {escape(str(_iso(as_of)))}; the rule\'s year: '
        f"{escape(str(window))}. &mu; = ((525,600 &minus; (T<sub>outage</sub> &minus; "
        f"T<sub>excluded</sub>)) / 525,600) &times; 100. Budget: 3% of 525,600 = "
        f"{BUDGET_MINUTES:,.0f} minutes of net outage. Ports under {threshold}% are marked; a "
        "port with missing history has no &mu; (it is never reported as 100%).</p>",
        _summary_table(rows, threshold),
    ]
    by_station: dict[str, list[ReportRow]] = {}
    for row in rows:
        by_station.setdefault(row.report.year.station_id, []).append(row)
    for station_id, station_rows in by_station.items():
        parts.append(f'<section class="station" id="station-{escape(station_id)}">')
        parts.append(f"<h2>Station {escape(station_id)}</h2>")
        parts.append("<h3>Monthly availability per port (last 12 months)</h3>")
        parts.append(_month_chart(station_id, station_rows, threshold))
        parts.append("<h3>Outage timeline</h3>")
        parts.append(_timeline(station_id, station_rows))
        parts.append("</section>")
    parts.append(_legend())
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _summary_table(rows: Sequence[ReportRow], threshold: Decimal) -> str:
    head = (
        '<table id="ports"><thead><tr><th>station</th><th>port</th><th>&mu; %</th>'
        "<th>T<sub>outage</sub> min</th><th>T<sub>excluded</sub> min</th><th>net min</th>"
        "<th>budget left min</th><th>note</th></tr></thead><tbody>"
    )
    body = []
    for row in rows:
        r = row.record
        classes = []
        if r["missing_history"]:
            classes.append("missing")
        elif row.below(threshold):
            classes.append("below")
        if r["missing_history"]:
            note = "missing history: not known"
        elif r["first_year"]:
            note = f"first year (provisional {r['provisional_uptime'] or '-'}%)"
        else:
            note = ""
        cells = [
            f'<td class="id">{escape(r["station_id"])}</td>',
            f'<td class="id">{escape(r["port_id"])}</td>',
            f"<td>{escape(r['uptime'] or '-')}</td>",
            f"<td>{r['outage_minutes']}</td>",
            f"<td>{r['excluded_minutes']}</td>",
            f"<td>{r['net_outage_minutes']}</td>",
            f"<td>{r['budget_left_minutes'] or '-'}</td>",
            f'<td class="id">{escape(note)}</td>',
        ]
        body.append(
            f'<tr class="{" ".join(classes)}" data-port="{escape(r["port_id"])}">'
            + "".join(cells)
            + "</tr>"
        )
    return head + "".join(body) + "</tbody></table>"


WIDTH, LEFT, RIGHT = 760, 60, 20


def _month_chart(station_id: str, rows: Sequence[ReportRow], threshold: Decimal) -> str:
    height, top, bottom = 220, 20, 40
    series = [[month_share(row.report.history, m) for m in row.report.months] for row in rows]
    values = [v for s in series for v in s if v is not None]
    low = min([Decimal(90), *values])
    low = Decimal(int(low // 10 * 10))
    months = rows[0].report.months if rows else []
    count = max(len(months), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - top - bottom

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / count)

    def y(v: Decimal) -> float:
        return top + float((Decimal(100) - v) / (Decimal(100) - low or 1)) * plot_h

    out = [
        f'<svg class="months" data-station="{escape(station_id)}" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg" '
        'role="img">',
        f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
    ]
    for tick in (low, (low + 100) / 2, Decimal(100)):
        out.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.0f}%</text>'
        )
    out.append(
        f'<line class="threshold" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(threshold):.1f}" '
        f'y2="{y(threshold):.1f}" stroke="#c62828" stroke-dasharray="4 3"/>'
    )
    for i, month in enumerate(months):
        out.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{month.window_start:%b %y}</text>"
        )
    for n, (row, points) in enumerate(zip(rows, series, strict=True)):
        colour = PORT_COLOURS[n % len(PORT_COLOURS)]
        coords = [(x(i), y(v)) for i, v in enumerate(points) if v is not None]
        port = escape(row.report.year.port_id)
        if len(coords) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
            out.append(
                f'<polyline class="port" data-port="{port}" points="{path}" fill="none" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        for (a, b), v in zip(coords, [v for v in points if v is not None], strict=True):
            out.append(
                f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}">'
                f"<title>{port}: {v}%</title></circle>"
            )
        out.append(
            f'<text x="{LEFT + 8 + 150 * n}" y="{height - 6}" fill="{colour}">&#9632; {port}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _timeline(station_id: str, rows: Sequence[ReportRow]) -> str:
    lane, top = 26, 10
    height = top + lane * len(rows) + 30
    plot_w = WIDTH - LEFT - RIGHT - 60
    left = LEFT + 60
    if not rows:
        return ""
    start, end = rows[0].report.year.window_start, rows[0].report.year.window_end
    span = (end - start).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        clipped = min(max(moment, start), end)
        return left + plot_w * (clipped - start).total_seconds() / span

    out = [
        f'<svg class="timeline" data-station="{escape(station_id)}" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg" '
        'role="img">'
    ]
    for lane_no, row in enumerate(rows):
        y = top + lane * lane_no
        port = escape(row.report.year.port_id)
        out.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{port}</text>')
        out.append(
            f'<rect x="{left}" y="{y + 4}" width="{plot_w}" height="{lane - 8}" fill="#e8f5e9"/>'
        )
        for outage in row.report.outages:
            out.append(_outage_bar(outage, x, y, lane, end))
    for month in rows[0].report.months:
        out.append(
            f'<text x="{x(month.window_start):.1f}" y="{height - 8}" text-anchor="middle">'
            f"{month.window_start:%b}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _outage_bar(outage: Outage, x: Any, y: int, lane: int, end: datetime) -> str:
    a, b = x(outage.start), x(outage.end or end)
    width = max(b - a, 1.0)  # a short outage stays visible
    colour = CAUSE_COLOURS[outage.cause]
    title = (
        f"outage {outage.outage_id}: {outage.cause.value}, {_iso(outage.start)} to "
        f"{_iso(outage.end) or 'going on'}"
        + (f", excluded (reason {outage.reason.value if outage.reason else '-'})"
           if outage.excluded else "")
    )  # fmt: skip
    opacity = "0.45" if outage.excluded else "1"
    return (
        f'<rect class="outage" data-outage="{outage.outage_id}" x="{a:.1f}" y="{y + 4}" '
        f'width="{width:.1f}" height="{lane - 8}" fill="{colour}" fill-opacity="{opacity}">'
        f"<title>{escape(title)}</title></rect>"
    )


def _legend() -> str:
    items = "".join(
        f'<li><span style="color:{colour}">&#9632;</span> {cause.value}</li>'
        for cause, colour in CAUSE_COLOURS.items()
    )
    return (
        f'<h3>Causes</h3><ul class="legend">{items}</ul><p class="note">Excluded outages are '
        "drawn pale. Minutes are exact to the hundredth; the rule's year counts "
        f"{YEAR_MINUTES:,} minutes whatever the window's length (a leap year too).</p>"
    )
