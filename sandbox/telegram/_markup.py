"""Formatted text as Telegram parses it: HTML, MarkdownV2 and legacy Markdown.

Each parser returns the visible text and its entities (offsets in UTF-16 code
units, as the Bot API counts them) or raises `ParseError` with the message
Telegram puts after "Bad Request: can't parse entities: ".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Entity = dict[str, Any]


class ParseError(ValueError):
    """Text that Telegram would refuse to parse."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


@dataclass
class _Builder:
    parts: list[str] = field(default_factory=list)
    position: int = 0  # UTF-16 units written so far
    entities: list[Entity] = field(default_factory=list)

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.position += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.position > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.position - start, **extra}
            )

    def result(self) -> tuple[str, list[Entity]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


# --- HTML -------------------------------------------------------------------

_HTML_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTRIBUTE = re.compile(r"\s*([a-zA-Z0-9-]+)\s*")
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_HTML_TAGS = {*_SIMPLE_TAGS, "span", "a", "blockquote", "tg-emoji"}


def _decode_html_entity(text: str, index: int) -> tuple[str, int] | None:
    match = _HTML_ENTITY.match(text, index)
    if match is None:
        return None
    named, decimal, hexadecimal = match.groups()
    if named:
        return _NAMED[named], match.end()
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


def _decode_attribute(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        decoded = _decode_html_entity(value, i) if value[i] == "&" else None
        if decoded:
            out.append(decoded[0])
            i = decoded[1]
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


@dataclass
class _OpenTag:
    name: str
    attributes: dict[str, str]
    start: int


def parse_html(text: str) -> tuple[str, list[Entity]]:
    out = _Builder()
    stack: list[_OpenTag] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is None:
                raise ParseError(
                    f'Character "&" at byte offset {_byte_offset(text, i)} is not the start of '
                    "an HTML entity; escape it as &amp;"
                )
            out.write(decoded[0])
            i = decoded[1]
        elif char != "<":
            j = i
            while j < n and text[j] not in "<&":
                j += 1
            out.write(text[i:j])
            i = j
        elif text.startswith("</", i):
            i = _html_end_tag(text, i, stack, out)
        else:
            i = _html_start_tag(text, i, stack, out)
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.result()


def _html_start_tag(text: str, i: int, stack: list[_OpenTag], out: _Builder) -> int:
    begin = _byte_offset(text, i)
    name_match = _TAG_NAME.match(text, i + 1)
    assert name_match is not None  # the pattern matches the empty string
    name = name_match.group().lower()
    if name not in _HTML_TAGS:
        raise ParseError(f'Unsupported start tag "{name}" at byte offset {begin}')
    i = name_match.end()
    attributes: dict[str, str] = {}
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            raise ParseError(f"Unclosed start tag at byte offset {begin}")
        if text[i] == ">":
            i += 1
            break
        attribute = _ATTRIBUTE.match(text, i)
        if attribute is None:
            raise ParseError(f'Empty attribute name in the tag "{name}" at byte offset {begin}')
        key = attribute.group(1).lower()
        i = attribute.end()
        if i < len(text) and text[i] == "=":
            i += 1
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                raise ParseError(f"Unclosed start tag at byte offset {begin}")
            if text[i] in "'\"":
                end = text.find(text[i], i + 1)
                if end < 0:
                    raise ParseError(f"Unclosed start tag at byte offset {begin}")
                attributes[key] = _decode_attribute(text[i + 1 : end])
                i = end + 1
            else:
                value = re.match(r"[^\s>]*", text[i:])
                assert value is not None
                attributes[key] = _decode_attribute(value.group())
                i += value.end()
        else:
            attributes[key] = ""
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
    if name == "tg-emoji" and "emoji-id" not in attributes:
        raise ParseError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {begin}')
    stack.append(_OpenTag(name, attributes, out.position))
    return i


def _html_end_tag(text: str, i: int, stack: list[_OpenTag], out: _Builder) -> int:
    begin = _byte_offset(text, i)
    name_match = _TAG_NAME.match(text, i + 2)
    assert name_match is not None
    name = name_match.group().lower()
    i = name_match.end()
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text) or text[i] != ">":
        raise ParseError(f"Unclosed end tag at byte offset {begin}")
    if not stack:
        raise ParseError(f"Unexpected end tag at byte offset {begin}")
    tag = stack.pop()
    if name != tag.name:
        raise ParseError(
            f'Unmatched end tag at byte offset {begin}, expected "</{tag.name}>", found "</{name}>"'
        )
    _html_entity_for(tag, stack, out)
    return i + 1


def _html_entity_for(tag: _OpenTag, stack: list[_OpenTag], out: _Builder) -> None:
    if tag.name == "a":
        href = tag.attributes.get("href")
        if href:
            out.entity("text_link", tag.start, url=href)
    elif tag.name == "span":
        out.entity("spoiler", tag.start)
    elif tag.name == "blockquote":
        kind = "expandable_blockquote" if "expandable" in tag.attributes else "blockquote"
        out.entity(kind, tag.start)
    elif tag.name == "tg-emoji":
        out.entity("custom_emoji", tag.start, custom_emoji_id=tag.attributes["emoji-id"])
    elif tag.name == "code" and stack and stack[-1].name == "pre" and stack[-1].start == tag.start:
        language = tag.attributes.get("class", "")
        if language.startswith("language-"):
            stack[-1].attributes["language"] = language.removeprefix("language-")
    elif tag.name == "pre":
        pre_language = tag.attributes.get("language")
        if pre_language:
            out.entity("pre", tag.start, language=pre_language)
        else:
            out.entity("pre", tag.start)
    else:
        out.entity(_SIMPLE_TAGS[tag.name], tag.start)


# --- MarkdownV2 -------------------------------------------------------------

_V2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_V2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    out = _Builder()
    stack: list[tuple[str, int, int]] = []  # kind, UTF-16 start, index in text
    quote_start: int | None = None  # consecutive lines starting with ">" form one quote
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        line_start = i == 0 or text[i - 1] == "\n"
        if char == "\n" and quote_start is not None and not text.startswith(">", i + 1):
            out.entity("blockquote", quote_start)
            quote_start = None
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.write(text[i + 1])
            i += 2
            continue
        if char == ">" and line_start:
            if quote_start is None:
                quote_start = out.position
            i += 1
            continue
        if char not in _V2_RESERVED:
            out.write(char)
            i += 1
            continue
        if char == "`":
            i = _v2_code(text, i, out)
            continue
        kind = {"*": "bold", "~": "strikethrough"}.get(char)
        width = 1
        if char == "_":
            kind, width = ("underline", 2) if text.startswith("__", i) else ("italic", 1)
        elif char == "|" and text.startswith("||", i):
            kind, width = "spoiler", 2
        elif char == "[":
            kind = "text_link"
        elif char == "]" and stack and stack[-1][0] == "text_link":
            i = _v2_link_end(text, i, stack, out)
            continue
        if kind is None:
            raise ParseError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        if kind != "text_link" and stack and stack[-1][0] == kind:
            _, start, _ = stack.pop()
            out.entity(kind, start)
        else:
            stack.append((kind, out.position, i))
        i += width
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    if stack:
        kind, _, index = stack[-1]
        raise ParseError(
            f"Can't find end of {_V2_NAMES[kind]} entity at byte offset {_byte_offset(text, index)}"
        )
    return out.result()


def _v2_code(text: str, i: int, out: _Builder) -> int:
    fence = "```" if text.startswith("```", i) else "`"
    j = i + len(fence)
    language = ""
    if fence == "```":
        newline = text.find("\n", j)
        closing = text.find("```", j)
        if 0 <= newline < closing and not text[j:newline].strip().count(" "):
            language = text[j:newline].strip()
            j = newline + 1
    start = out.position
    while j < len(text):
        if text[j] == "\\" and j + 1 < len(text):
            out.write(text[j + 1])
            j += 2
        elif text.startswith(fence, j):
            kind = "pre" if fence == "```" else "code"
            if language:
                out.entity(kind, start, language=language)
            else:
                out.entity(kind, start)
            return j + len(fence)
        else:
            out.write(text[j])
            j += 1
    name = "Pre" if fence == "```" else "Code"
    raise ParseError(f"Can't find end of {name} entity at byte offset {_byte_offset(text, i)}")


def _v2_link_end(text: str, i: int, stack: list[tuple[str, int, int]], out: _Builder) -> int:
    _, start, index = stack.pop()
    if not text.startswith("(", i + 1):
        raise ParseError(f"Can't find end of TextUrl entity at byte offset {_byte_offset(text, i)}")
    end = i + 2
    url: list[str] = []
    while end < len(text) and text[end] != ")":
        if text[end] == "\\" and end + 1 < len(text):
            end += 1
        url.append(text[end])
        end += 1
    if end >= len(text):
        raise ParseError(f"Can't find end of a URL at byte offset {_byte_offset(text, index)}")
    out.entity("text_link", start, url="".join(url))
    return end + 1


# --- legacy Markdown ------------------------------------------------------------


def parse_markdown(text: str) -> tuple[str, list[Entity]]:
    out = _Builder()
    i = 0
    n = len(text)
    closers = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.write(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.write(char)
            i += 1
            continue
        begin = _byte_offset(text, i)
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise ParseError(f"Can't find end of the entity starting at byte offset {begin}")
            start = out.position
            out.write(text[i + 3 : end])
            out.entity("pre", start)
            i = end + 3
            continue
        if char == "[":
            close = text.find("](", i)
            end = text.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise ParseError(f"Can't find end of the entity starting at byte offset {begin}")
            start = out.position
            out.write(text[i + 1 : close])
            out.entity("text_link", start, url=text[close + 2 : end])
            i = end + 1
            continue
        end = text.find(char, i + 1)
        if end < 0:
            raise ParseError(f"Can't find end of the entity starting at byte offset {begin}")
        start = out.position
        out.write(text[i + 1 : end])
        out.entity(closers[char], start)
        i = end + 1
    return out.result()


def parse(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """Visible text and entities for `text` sent with `parse_mode` (None: plain)."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    if mode:
        raise ParseError(f"Unsupported parse_mode {parse_mode!r}")
    return text, []


def strip(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Trim surrounding whitespace the way Telegram does, moving entities along."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept
