"""Day rates: one per role, and a person's own rate for a role (which wins on their lines)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import AuditAction, DayRate, Person
from services import audit
from services.clock import Clock
from services.errors import require_manager
from services.money import AmountError, parse_amount
from services.payroll._errors import BadRate
from services.people import Among, PeopleService

ROLE_MAX = 60
CLEAR_WORDS = ("clear", "none", "remove")
RATE_FORMS = (
    "Send /rates sound engineer | 3500 for a role's day rate, or "
    "/rates Jane | rigger | 4000 for a person's own rate (add | clear to remove one)."
)


def clean_role(text: str) -> str:
    """A role as assignments store it: lower case, single spaces."""
    role = " ".join(text.split()).lower()
    if not role:
        raise BadRate("Say which role, like sound engineer or rigger. " + RATE_FORMS)
    if len(role) > ROLE_MAX:
        raise BadRate(f"The role is {len(role)} characters; keep it under {ROLE_MAX}.")
    # As assignments take it (any words), but never a bare number: "/rates 1234 | 500".
    if not any(c.isalpha() for c in role) or not role.isprintable():
        raise BadRate(f"“{role[:40]}” is not a role: use words, like sound engineer or rigger.")
    return role


def clean_rate(text: str) -> int | None:
    """Whole shillings a day, or None to clear the rate."""
    if text.strip().lower() in CLEAR_WORDS:
        return None
    try:
        return parse_amount(text)
    except AmountError as exc:
        raise BadRate(f"{exc} A day rate is whole shillings, like 3500.") from exc


def scope_of(role: str, person_id: int | None) -> str:
    return role if person_id is None else f"{role}#{person_id}"


@dataclass(frozen=True)
class RateChange:
    role: str
    amount: int | None  # None: the rate was cleared
    person: Person | None  # set for a person's own rate
    before: int | None


@dataclass(frozen=True)
class RateBook:
    roles: list[DayRate]  # by role
    own: list[DayRate]  # people's own rates, person prefetched, by person then role


async def rates_for(
    roles: Iterable[str], conn: BaseDBAsyncClient | None = None
) -> dict[tuple[str, int | None], int]:
    """(role, person id or None) → amount, for the given roles."""
    wanted = sorted(set(roles))
    if not wanted:
        return {}
    rows = await DayRate.filter(role__in=wanted).using_db(conn)
    return {(r.role, r.person_id): r.amount for r in rows}  # type: ignore[attr-defined]


class Rates:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def book(self, actor: Person) -> RateBook:
        require_manager(actor, "see day rates")
        roles = await DayRate.filter(person_id__isnull=True).order_by("role")
        own = await DayRate.filter(person_id__isnull=False).prefetch_related("person")
        own.sort(key=lambda r: (str(r.person.name).lower() if r.person else "", r.role))
        return RateBook(list(roles), own)

    async def set_from_text(
        self, actor: Person, text: str, *, chat_id: int | None = None
    ) -> RateChange:
        """`sound engineer | 3500` or `Jane | rigger | 4000`; `| clear` removes one."""
        require_manager(actor, "set day rates")
        parts = [p.strip() for p in text.split("|")]
        if len(parts) == 2:
            return await self.set(actor, None, parts[0], parts[1], chat_id=chat_id)
        if len(parts) == 3:
            return await self.set(actor, parts[0], parts[1], parts[2], chat_id=chat_id)
        raise BadRate(RATE_FORMS)

    async def set(
        self,
        actor: Person,
        who: str | None,
        role_text: str,
        amount_text: str,
        *,
        chat_id: int | None = None,
    ) -> RateChange:
        require_manager(actor, "set day rates")
        role = clean_role(role_text)
        amount = clean_rate(amount_text)
        person = await PeopleService.find(who, among=Among.EVERYONE) if who is not None else None
        scope = scope_of(role, person.id if person else None)
        now = self.clock.now()
        async with in_transaction() as conn:
            row = await DayRate.filter(scope=scope).select_for_update().using_db(conn).first()
            before = row.amount if row else None
            if amount is None:
                if row is None:
                    whose = f"{person.name} has no own rate" if person else "There is no day rate"
                    raise BadRate(f"{whose} for {role} to clear.")
                await DayRate.filter(id=row.id).using_db(conn).delete()
            elif row is None:
                await DayRate.create(
                    scope=scope,
                    role=role,
                    person=person,
                    amount=amount,
                    set_by=actor,
                    created_at=now,
                    updated_at=now,
                    using_db=conn,
                )
            else:
                await (
                    DayRate.filter(id=row.id)
                    .using_db(conn)
                    .update(amount=amount, set_by_id=actor.id, updated_at=now)
                )
            await audit.record(
                AuditAction.RATE_SET if amount is not None else AuditAction.RATE_CLEARED,
                "person" if person else "rate",
                person.id if person else None,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"role": role, "amount": amount, "before": before},
                using_db=conn,
            )
        return RateChange(role, amount, person, before)
