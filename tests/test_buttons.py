"""The typed callback data every button carries: packed, parsed, and refused when forged."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pytest

from services.buttons import CallbackData


class Reply(StrEnum):
    YES = "yes"
    NO = "no"


@dataclass(frozen=True)
class Answer(CallbackData, prefix="tst"):
    reply: Reply
    assignment_id: int
    origin: str = ""
    page: int = 0


@dataclass(frozen=True)
class Card(CallbackData, prefix="tst", action="card"):
    event_id: int


@dataclass(frozen=True)
class Force(CallbackData, prefix="tst", action="force"):
    event_id: int
    role: str  # the last field takes the rest, ':' included


def test_packs_and_parses_back_leaving_off_defaults() -> None:
    assert Answer(Reply.YES, 12).pack() == "tst:yes:12"
    assert Answer(Reply.NO, 12, "my", 3).pack() == "tst:no:12:my:3"
    assert Answer.parse("tst:no:12:my:3") == Answer(Reply.NO, 12, "my", 3)
    assert Answer.parse("tst:yes:12") == Answer(Reply.YES, 12)
    assert Card(7).pack() == "tst:card:7" and Card.parse("tst:card:7") == Card(7)
    assert Force.parse("tst:force:7:sound: FOH") == Force(7, "sound: FOH")


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "tst",
        "tst:maybe:12",  # not a Reply
        "tst:yes",  # missing the id
        "tst:yes:12x",
        "tst:yes:-1",
        "tst:yes:²",
        "tst:yes:99999999999",  # more than any row id
        "tst:yes:12:my:3:extra",
        "tsx:yes:12",
        "tst:card:7",  # another kind of press in the same area
        "tst:yes:" + "1" * 60,
    ],
)
def test_forged_or_garbled_data_is_not_a_press(data: object) -> None:
    assert Answer.parse(data) is None
    assert not Answer.matches(data)


def test_the_other_kind_in_the_area_does_not_match() -> None:
    assert Card.parse("tst:yes:12") is None
    assert Card.parse("tst:card:7:8") is None


def test_packing_refuses_what_telegram_would_not_carry() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        Force(1, "r" * 60).pack()
    with pytest.raises(ValueError, match="':'"):
        Answer(Reply.YES, 1, "a:b", 2).pack()
    with pytest.raises(ValueError, match="not an id"):
        Card(-4).pack()
