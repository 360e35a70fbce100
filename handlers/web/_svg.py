"""Bar charts as inline SVG, drawn here and written out by templates/web/board/_chart.html.j2
with presentation attributes only (the CSP allows no inline style). Small: a phone's width,
six months or eight people, a label on each bar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from services.board import Reliability
from services.insight import StatsReport

WIDTH, HEIGHT = 320, 170
TOP, BOTTOM, LEFT = 18, 22, 4  # room for values above the bars and months below
IN, OUT, RATE = "#1e7d32", "#0b6bcb", "#8a5a00"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str  # read out by screen readers, shown on long press


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass
class Chart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, what)
    empty: bool = False


def short_kes(amount: int) -> str:
    """12,400 → 12.4k; 1,250,000 → 1.25M: a bar's label in a few characters."""
    # A value that rounds to 1,000 of one unit is shown in the next: 999,800 is 1M, not 1e+03k.
    for size, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if float(f"{amount / size:.3g}") >= 1:
            return f"{float(f'{amount / size:.3g}'):g}{unit}"
    return str(amount)


def _columns(
    title: str, groups: Sequence[tuple[str, Sequence[tuple[int, str, str]]]], top: int
) -> Chart:
    """Groups of bars side by side: (group label, [(value, colour, value label)])."""
    chart = Chart(title)
    if not groups:
        chart.empty = True
        return chart
    slot = (WIDTH - 2 * LEFT) / len(groups)
    per = max(len(bars) for _, bars in groups)
    width = (slot * 0.8) / per
    plot = HEIGHT - TOP - BOTTOM
    for index, (name, bars) in enumerate(groups):
        left = LEFT + index * slot + slot * 0.1
        for n, (value, colour, shown) in enumerate(bars):
            height = plot * value / top if top else 0
            x = left + n * width
            y = TOP + plot - height
            chart.bars.append(
                Bar(
                    round(x, 1),
                    round(y, 1),
                    round(width - 1, 1),
                    round(height, 1),
                    colour,
                    f"{name}: {shown}",
                )
            )
            if value:  # a row of zeros says nothing the empty bars do not
                chart.labels.append(Label(round(x + width / 2, 1), round(y - 3, 1), shown))
        chart.labels.append(Label(round(left + slot * 0.4, 1), HEIGHT - 6, name))
    return chart


def money_bars(report: StatsReport) -> Chart:
    top = max([max(m.money_in, m.money_out) for m in report.months] + [0])
    groups = [
        (
            m.month.name[:3],
            [(m.money_in, IN, short_kes(m.money_in)), (m.money_out, OUT, short_kes(m.money_out))],
        )
        for m in report.months
    ]
    chart = _columns("Money in and out by month, KES", groups, top)
    chart.legend = [(IN, "in"), (OUT, "out (wages)")]
    chart.empty = top == 0
    return chart


def rate_bars(report: StatsReport) -> Chart:
    groups = [
        (
            m.month.name[:3],
            [(m.confirm_rate or 0, RATE, "–" if m.confirm_rate is None else f"{m.confirm_rate}%")],
        )
        for m in report.months
    ]
    chart = _columns("Crew who said yes, by month", groups, 100)
    chart.empty = all(m.confirm_rate is None for m in report.months)
    return chart


def reliability_bars(people: Sequence[Reliability]) -> Chart:
    """One row per person: a bar as long as their confirm rate, name on the left."""
    chart = Chart("Confirm rate of the most asked crew, last six months")
    if not people:
        chart.empty = True
        return chart
    row, name_width = 18, 120
    chart.height = row * len(people) + 6
    room = WIDTH - name_width - 44
    for index, person in enumerate(people):
        y = 3 + index * row
        width = room * person.rate / 100
        chart.bars.append(
            Bar(
                name_width,
                y,
                round(width, 1),
                row - 5,
                RATE,
                f"{person.name}: {person.confirmed} of {person.asked} confirmed",
            )
        )
        name = person.name if len(person.name) <= 18 else person.name[:17] + "…"
        chart.labels.append(Label(name_width - 4, y + row - 8, name, "end"))
        chart.labels.append(
            Label(name_width + width + 4, y + row - 8, f"{person.rate}% of {person.asked}", "start")
        )
    return chart
