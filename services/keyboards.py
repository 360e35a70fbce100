"""Inline buttons that services put on the messages they queue (`<area>:<action>:<id>`)."""

from __future__ import annotations

from services.notifications import Button, Keyboard


def answer_buttons(assignment_id: int, suffix: str = "") -> Keyboard:
    return [
        [
            Button("✅ Confirm", f"asg:yes:{assignment_id}{suffix}"),
            Button("❌ Decline", f"asg:no:{assignment_id}{suffix}"),
        ]
    ]


def change_button(assignment_id: int) -> Keyboard:
    return [[Button("Change my answer", f"asg:change:{assignment_id}")]]


def read_button(assignment_id: int) -> Keyboard:
    return [[Button("✅ I've read it", f"asg:read:{assignment_id}")]]


def card_button(event_id: int, text: str = "Open the event") -> Keyboard:
    return [[Button(text, f"evt:card:{event_id}")]]
