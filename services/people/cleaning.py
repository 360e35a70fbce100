"""Names, email addresses and role lists as typed, cleaned or refused with the reason."""

from __future__ import annotations

import re
from collections.abc import Iterable

from services.people.errors import InvalidPerson

_EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def clean_name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise InvalidPerson("The name is empty. Type the person's name, like Jane Wanjiku.")
    if len(name) > 100:
        raise InvalidPerson(f"The name is {len(name)} characters long; keep it under 100.")
    if not re.search(r"[^\W\d_]", name):
        raise InvalidPerson(f"“{name[:40]}” does not look like a name. Type it like Jane Wanjiku.")
    return name


def clean_email(text: str | None) -> str | None:
    if text is None or not text.strip() or text.strip() in {"-", "none"}:
        return None
    email = text.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidPerson(
            f"“{email[:60]}” is not an email address. "
            "Use a form like jane@example.com, or leave it out."
        )
    return email


def clean_skills(skills: str | Iterable[str]) -> str:
    items = skills.split(",") if isinstance(skills, str) else list(skills)
    cleaned = []
    for item in items:
        skill = " ".join(item.lower().split())
        if not skill:
            continue
        if len(skill) > 40:
            raise InvalidPerson(
                f"The role “{skill[:40]}…” is too long; keep each role under 40 characters."
            )
        if skill not in cleaned:
            cleaned.append(skill)
    joined = ",".join(cleaned)
    if len(joined) > 500:
        raise InvalidPerson("That is too many roles; keep the list under 500 characters.")
    return joined


def required_skills(skills: str | Iterable[str]) -> str:
    """Like clean_skills, but a person added or edited in chat needs at least one role."""
    cleaned = clean_skills(skills)
    if not cleaned:
        raise InvalidPerson("Type at least one role, like: sound engineer, rigger.")
    return cleaned
