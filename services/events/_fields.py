"""Parsing and checking an event, one field at a time: the guided form, the inline
/newevent and /editevent use these."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from models import (
    Event,
)
from services.dates import DateError, is_time_only, parse_when
from services.events._base import EventsBase
from services.events._errors import InvalidEvent
from services.events._model import INLINE_FORMAT, EventDraft, Needs

MAX_CREW = 500
# One role and its number: "rigger 3", "sound engineer: 1", "2 mc".
NEED_ITEM = re.compile(
    r"(\d{1,3})\s+([a-z][a-z .'&/-]{0,59})|([a-z][a-z .'&/-]{0,59}?)\s*:?\s*(\d{1,3})"
)
NEED_PREFIX = re.compile(r"^(?:crew|needs?)\b\s*:?\s*")
NEEDS_HELP = (
    "Type a number of crew like crew 4, or roles with numbers like rigger 3, sound engineer 1."
)


class EventFields(EventsBase):
    def clean_title(self, text: str) -> str:
        title = " ".join(text.split())
        if not title:
            raise InvalidEvent("The title is empty. Type a short name, like Harusi ya Wanjiru.")
        if len(title) > 120:
            raise InvalidEvent(f"The title is {len(title)} characters; keep it under 120.")
        return title

    def clean_venue(self, text: str) -> str:
        venue = " ".join(text.split())
        if not venue:
            raise InvalidEvent("The venue is empty. Type where it is, like KICC, Nairobi.")
        if len(venue) > 200:
            raise InvalidEvent(f"The venue is {len(venue)} characters; keep it under 200.")
        return venue

    def clean_notes(self, text: str) -> str:
        notes = text.strip()
        if notes.lower() in {"-", "none", "skip"}:
            return ""
        if len(notes) > 2000:
            raise InvalidEvent(f"The notes are {len(notes)} characters; keep them under 2000.")
        return notes

    def parse_target(self, text: str) -> int | None:
        """The number of crew alone (any role): `crew 4`, `4`."""
        return self.parse_needs(text).total

    def parse_needs(self, text: str) -> Needs:
        """`crew 4` (any role) or needs per role, `rigger 3, sound engineer 1`."""
        cleaned = " ".join(text.split()).lower()
        if cleaned in {"", "-", "none", "skip"}:
            return Needs(None)
        body = re.sub(r"^(?:crew|needs?)\b\s*:?\s*", "", cleaned)
        number = re.fullmatch(r"(\d{1,3})(?:\s*crew)?", body)
        if number:
            total = int(number.group(1))
            if not 1 <= total <= MAX_CREW:
                raise InvalidEvent(f"{total} crew is out of range: type 1 to {MAX_CREW}.")
            return Needs(total)
        roles: dict[str, int] = {}
        for item in (i.strip() for i in body.split(",")):
            match = NEED_ITEM.fullmatch(item)
            if re.fullmatch(r"\d{1,3}(?:\s*crew)?", item) or (match and match.group(3) == "crew"):
                raise InvalidEvent(
                    "Give either a number of crew (any role) or roles with numbers, not both. "
                    + NEEDS_HELP
                )
            if not match:
                raise InvalidEvent(f"“{item or text.strip()}” is not a crew need. {NEEDS_HELP}")
            role = " ".join((match.group(2) or match.group(3)).split())
            count = int(match.group(1) or match.group(4))
            if role in roles:
                raise InvalidEvent(f"{role} is given twice. Say each role once. {NEEDS_HELP}")
            if not 1 <= count <= MAX_CREW:
                raise InvalidEvent(f"{role} {count} is out of range: type 1 to {MAX_CREW}.")
            roles[role] = count
        total = sum(roles.values())
        if total > MAX_CREW:
            raise InvalidEvent(f"That is {total} crew in all; the most is {MAX_CREW}.")
        return Needs(total, tuple(roles.items()))

    def parse_start(self, text: str) -> datetime:
        now = self.clock.now()
        try:
            starts = parse_when(text, now=now, tz=self.tz)
        except DateError as exc:
            raise InvalidEvent(f"Start: {exc}") from exc
        if starts <= now:
            raise InvalidEvent(
                f"The start, {self.when(starts)}, is in the past. Events must start in the future."
            )
        return starts

    def parse_end(self, text: str, starts: datetime) -> datetime:
        """A time alone means the start's day, or the next day when it is not after the
        start (a wedding from 18:00 to 02:00 ends after midnight)."""
        now = self.clock.now()
        try:
            ends = parse_when(text, now=now, tz=self.tz, day_of=starts)
            if ends <= starts and is_time_only(text):
                ends = parse_when(text, now=now, tz=self.tz, day_of=starts + timedelta(days=1))
        except DateError as exc:
            raise InvalidEvent(f"End: {exc}") from exc
        if ends <= starts:
            raise InvalidEvent(
                f"The end, {self.when(ends)}, is not after the start, {self.when(starts)}."
            )
        return ends

    def ends_next_day(self, event: Event) -> bool:
        return event.ends_at.astimezone(self.tz).date() > event.starts_at.astimezone(self.tz).date()

    def parse_call(self, text: str, starts: datetime) -> datetime:
        cleaned = re.sub(r"^\s*call(\s+time)?\s*:?\s*", "", text, flags=re.IGNORECASE)
        if not cleaned.strip() or cleaned.strip().lower() in {"-", "skip", "none"}:
            return starts
        now = self.clock.now()
        try:
            call = parse_when(cleaned, now=now, tz=self.tz, day_of=starts)
        except DateError as exc:
            raise InvalidEvent(f"Call time: {exc}") from exc
        if call > starts:
            raise InvalidEvent(
                f"The call time, {self.when(call)}, is after the start, {self.when(starts)}. "
                "Crew must be called before the event starts."
            )
        if call <= now:
            raise InvalidEvent(f"The call time, {self.when(call)}, is in the past.")
        return call

    def parse_inline(self, text: str) -> EventDraft:
        parts = [p.strip() for p in text.split("|")]
        if len(parts) < 4 or len(parts) > 7:
            raise InvalidEvent(
                f"I need at least 4 parts separated by | (title, start, end, venue); "
                f"got {len(parts)}. For example:\n{INLINE_FORMAT}"
            )
        draft = EventDraft(title=self.clean_title(parts[0]))
        draft.starts_at = self.parse_start(parts[1])
        draft.ends_at = self.parse_end(parts[2], draft.starts_at)
        draft.venue = self.clean_venue(parts[3])
        optional = self._optional_parts(parts[4:])
        draft.call_at = self.parse_call(optional.get("call", ""), draft.starts_at)
        draft.notes = self.clean_notes(optional.get("notes", ""))
        needs = self.parse_needs(optional.get("crew", ""))
        draft.crew_target, draft.needs = needs.total, needs.roles
        return draft

    def _optional_parts(self, parts: list[str]) -> dict[str, str]:
        """Call time, notes and crew after the venue. A part that names itself ("call 15:00",
        "crew 6") is that part wherever it stands, so leaving the notes out does not turn
        "crew 2" into notes; an unnamed part takes its place in the order call, notes, crew."""
        found: dict[str, str] = {}
        unnamed: list[tuple[str, str]] = []
        for slot, part in zip(("call", "notes", "crew"), parts, strict=False):
            lower = part.lower()
            if re.match(r"call\b", lower):
                name = "call"
            elif re.fullmatch(r"(?:crew|needs?)\s*:?\s*\d+|\d+\s*crew", lower) or (
                # needs per role: "needs rigger 3" anywhere, or a list "rigger 3, mc 1"
                (re.match(r"(?:crew|needs?)\b", lower) or "," in lower)
                and all(
                    NEED_ITEM.fullmatch(i.strip()) for i in NEED_PREFIX.sub("", lower).split(",")
                )
            ):
                name = "crew"
            else:
                unnamed.append((slot, part))
                continue
            if name in found:
                raise InvalidEvent(f"The {name} is given twice: “{found[name]}” and “{part}”.")
            found[name] = part
        for slot, part in unnamed:
            if not part:
                continue
            if slot in found:
                raise InvalidEvent(
                    f"“{part}” stands where the {slot} goes, but the {slot} is given as "
                    f"“{found[slot]}”. For example:\n{INLINE_FORMAT}"
                )
            found[slot] = part
        return found
