"""The callback data a button carries, typed: one small frozen dataclass per kind of press.

    @dataclass(frozen=True)
    class Answer(CallbackData, prefix="asg"):
        reply: Reply          # a StrEnum: "yes" / "no"
        assignment_id: int
        page: int = 0         # trailing fields equal to their default are left off

    Answer(Reply.YES, 12).pack()          -> "asg:yes:12"
    Answer.parse("asg:no:12")             -> Answer(reply=Reply.NO, assignment_id=12)
    Answer.parse("asg:no:12x")            -> None (forged, garbled or another kind)
    CallbackQueryHandler(on_answer, pattern=Answer.matches)

A class may also fix a literal `action` word after the prefix (`evt:card:<id>`). Fields are
`int` (a row id or page: digits only, within a database integer), `str` (no ':' except in the
last field, which takes the rest), or a StrEnum (its values). Telegram carries at most 64 bytes
of callback data; `pack` refuses more, so a long value is a bug found in tests, not a button
that silently does nothing.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from enum import StrEnum
from typing import Any, ClassVar, Self

from services.ids import MAX_ID

TELEGRAM_LIMIT = 64  # bytes of callback_data


class CallbackData:
    prefix: ClassVar[str]
    action: ClassVar[str]
    _fields: ClassVar[tuple[tuple[str, Any, Any], ...]]  # (name, type, default or MISSING)

    def __init_subclass__(cls, *, prefix: str, action: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not prefix or ":" in prefix or ":" in action:
            raise TypeError(f"{cls.__name__}: prefix and action are single words")
        cls.prefix, cls.action = prefix, action

    @classmethod
    def _spec(cls) -> tuple[tuple[str, Any, Any], ...]:
        # Read once the dataclass decorator has run (it runs after __init_subclass__).
        spec = cls.__dict__.get("_fields")
        if spec is None:
            hints = typing.get_type_hints(cls)
            spec = tuple(
                (f.name, hints[f.name], f.default)
                for f in dataclasses.fields(cls)  # type: ignore[arg-type]  # subclasses are dataclasses
            )
            for name, kind, _ in spec:
                if kind not in (int, str) and not (
                    isinstance(kind, type) and issubclass(kind, StrEnum)
                ):
                    raise TypeError(f"{cls.__name__}.{name}: int, str or a StrEnum only")
            cls._fields = spec
        return spec

    def pack(self) -> str:
        spec = self._spec()
        values: list[str] = []
        for index, (name, kind, _) in enumerate(spec):
            value = getattr(self, name)
            text = value.value if isinstance(value, StrEnum) else str(value)
            if kind is int and not (isinstance(value, int) and 0 <= value <= MAX_ID):
                raise ValueError(f"{type(self).__name__}.{name}={value!r} is not an id")
            if ":" in text and index < len(spec) - 1:
                raise ValueError(f"{type(self).__name__}.{name} may not contain ':'")
            values.append(text)
        # Leave off trailing fields that hold their default.
        while spec and len(values) > 0:
            name, _, default = spec[len(values) - 1]
            if default is dataclasses.MISSING or getattr(self, name) != default:
                break
            values.pop()
        head = [self.prefix] + ([self.action] if self.action else [])
        data = ":".join(head + values)
        if len(data.encode()) > TELEGRAM_LIMIT:
            raise ValueError(f"{data!r} is over Telegram's {TELEGRAM_LIMIT} bytes")
        return data

    @classmethod
    def parse(cls, data: object) -> Self | None:
        """The press, or None for anything that is not exactly this kind of data."""
        if not isinstance(data, str) or len(data.encode()) > TELEGRAM_LIMIT:
            return None
        spec = cls._spec()
        head = cls.prefix + ":" + (cls.action + ":" if cls.action else "")
        if not data.startswith(head) and data != head.rstrip(":"):
            return None
        rest = data[len(head) :]
        parts = rest.split(":", len(spec) - 1) if spec and rest else []
        required = sum(1 for _, _, default in spec if default is dataclasses.MISSING)
        if not required <= len(parts) <= len(spec):
            return None
        values: dict[str, Any] = {}
        for (name, kind, _), text in zip(spec, parts, strict=False):
            value = _convert(kind, text)
            if value is None:
                return None
            values[name] = value
        return cls(**values)

    @classmethod
    def matches(cls, data: object) -> bool:
        """The handler's pattern: `CallbackQueryHandler(callback, pattern=Press.matches)`."""
        return cls.parse(data) is not None


def _convert(kind: Any, text: str) -> Any:
    if kind is int:
        if not text.isascii() or not text.isdigit() or len(text) > 10:
            return None
        number = int(text)
        return number if number <= MAX_ID else None
    if kind is str:
        return text if text else None
    try:
        return kind(text)
    except ValueError:
        return None


def in_area(prefix: str) -> Callable[[object], bool]:
    """A pattern for the catch-all of an area: any press whose data starts with `prefix:`
    that no more precise handler took (an old message, or a form already closed)."""

    def matches(data: object) -> bool:
        return isinstance(data, str) and data.startswith(prefix + ":")

    return matches
