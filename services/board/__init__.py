"""What the Mini App shows, read only: the managers' board (the week, money, charts) and a
crew member's own page. Every action the pages offer goes through the service the chat's
button calls (payroll, refunds, assignments), so it shows in the chat the same way.

    _week.py     this week's events, crew answers and gaps
    _money.py    payments with filters, pay sheets to review, refunds waiting, reconciliations
    _charts.py   money in and out and confirm rates by month; each regular's confirm rate
    _crew.py     a crew member's events to answer, balance, payslips and receipts
"""

from services.board._charts import Charts, Reliability, charts
from services.board._crew import CrewPage, Upcoming, crew_page
from services.board._money import (
    BadFilter,
    PaymentFilter,
    PaymentList,
    SheetReview,
    SheetRow,
    parse_filter,
    payments,
    reconciliations,
    refunds_waiting,
    sheet_review,
    sheets_to_review,
)
from services.board._week import Gap, Week, WeekEvent, parse_offset, week, week_bounds

__all__ = [
    "BadFilter",
    "Charts",
    "CrewPage",
    "Gap",
    "PaymentFilter",
    "PaymentList",
    "Reliability",
    "SheetReview",
    "SheetRow",
    "Upcoming",
    "Week",
    "WeekEvent",
    "charts",
    "crew_page",
    "parse_filter",
    "parse_offset",
    "payments",
    "reconciliations",
    "refunds_waiting",
    "sheet_review",
    "sheets_to_review",
    "week",
    "week_bounds",
]
