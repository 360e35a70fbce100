"""The /stats chart: money in and out as bars for six months, and the crew confirm rate
under them, as one PNG. Pure CPU work on a `matplotlib.figure.Figure` (no pyplot, so no
global state): `Stats.chart` runs it in a worker thread."""

from __future__ import annotations

import io

from services.insight._stats import StatsReport

WIDTH, HEIGHT, DPI = 10.0, 6.5, 120  # 1200 × 780 pixels: sharp in a chat, far below 10 MB
IN_COLOUR, OUT_COLOUR, RATE_COLOUR = "#2e7d32", "#c62828", "#1565c0"


def draw_chart(report: StatsReport, company: str) -> bytes:
    # Imported here, in the worker thread: matplotlib takes a moment to load, and only the
    # chart needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    months = report.months
    labels = [f"{m.month.name[:3]} {m.month.year % 100:02d}" for m in months]
    places = list(range(len(months)))
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    money, rate = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    first, last = months[0].month, months[-1].month
    since = first.name.split()[0] if first.year == last.year else first.name
    figure.suptitle(f"{company}: {since} to {last.name}", fontsize=14)

    width = 0.38
    bars_in = money.bar(
        [p - width / 2 for p in places],
        [m.money_in for m in months],
        width,
        label="Money in",
        color=IN_COLOUR,
    )
    bars_out = money.bar(
        [p + width / 2 for p in places],
        [m.money_out for m in months],
        width,
        label="Money out (wages sent)",
        color=OUT_COLOUR,
    )
    for bars in (bars_in, bars_out):
        money.bar_label(
            bars, labels=[f"{v:,.0f}" if v else "" for v in bars.datavalues], fontsize=8
        )
    money.set_ylabel("KES")
    money.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    money.margins(y=0.15)
    money.legend(loc="upper left", frameon=False)
    money.grid(axis="y", alpha=0.3)

    rates = [m.confirm_rate for m in months]
    shown = [(p, r) for p, r in zip(places, rates, strict=True) if r is not None]
    if shown:
        rate.plot([p for p, _ in shown], [r for _, r in shown], marker="o", color=RATE_COLOUR)
        for p, r in shown:
            rate.annotate(f"{r}%", (p, r), textcoords="offset points", xytext=(0, 7), ha="center")
    else:
        rate.text(0.5, 0.5, "No crew asked in these months", ha="center", transform=rate.transAxes)
    rate.set_ylim(0, 110)
    rate.set_ylabel("Crew confirm rate %")
    rate.grid(axis="y", alpha=0.3)
    rate.set_xticks(places, labels)

    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
