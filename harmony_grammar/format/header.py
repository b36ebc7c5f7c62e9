"""The one header interpreter: reads role, recipient, channel and content type from a header's text.

Batch parsing, streaming and validation all call it. It follows the
reference's rules, quirks included (see ``grammar/header.json`` for the markers)::

    >>> h = HeaderRules.load()
    >>> h.interpret("assistant to=functions.f<|channel|>commentary <|constrain|>json", None)
    ParsedHeader(role='assistant', name=None, recipient='functions.f', channel='commentary', content_type='<|constrain|>json', remaining=None)
    >>> h.interpret("functions.get_weather to=assistant<|channel|>commentary", None).name
    'functions.get_weather'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Container, Optional

from harmony_grammar.errors import HarmonyError
from harmony_grammar.model import Role
from harmony_grammar.resources import load_json

__all__ = ["ParsedHeader", "HeaderRules", "HeaderError", "ROLES", "Note"]

# What recovery changed: a rule of grammar/recovery.json and the fields of its diagnostic's message.
Note = tuple[str, dict[str, Any]]

ROLES = tuple(role.value for role in Role)

# Unicode White_Space, which Rust's char::is_whitespace and str::trim use
# (Python's str.isspace also accepts U+001C..U+001F, which Rust does not).
_WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_ASCII_WHITESPACE = re.compile(r"[ \t\n\x0c\r]+")


class HeaderError(HarmonyError):
    """A header that cannot be read: no role, an unknown role, an empty channel, leftover words."""


@dataclass(frozen=True)
class ParsedHeader:
    """What a header says. ``remaining`` is text left over (an error in strict headers)."""

    role: str
    name: Optional[str]
    recipient: Optional[str]
    channel: Optional[str]
    content_type: Optional[str]
    remaining: Optional[str] = None

    def state_json(self) -> dict[str, Any]:
        """The reference's serialization of a parsed header (StreamableParser.state_data)."""
        author: dict[str, Any] = {"role": self.role}
        if self.name is not None:
            author["name"] = self.name
        return {
            "author": author,
            "recipient": self.recipient,
            "channel": self.channel,
            "content_type": self.content_type,
        }


@dataclass(frozen=True)
class HeaderRules:
    """Markers and dialect switches for reading headers."""

    channel_marker: str
    constrain_marker: str
    recipient_prefix: str
    drop_extra_channels: bool

    @classmethod
    def load(cls, data: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None) -> "HeaderRules":
        """Rules from ``grammar/header.json`` (or the given dict), with a dialect's overrides."""
        raw = dict(data if data is not None else load_json("grammar", "header.json"))
        raw.update(overrides or {})
        try:
            mode = raw["extra_channel_markers"]
            if mode not in ("drop", "keep"):
                raise ValueError(f"extra_channel_markers must be 'drop' or 'keep', not {mode!r}")
            return cls(raw["channel_marker"], raw["constrain_marker"], raw["recipient_prefix"], mode == "drop")
        except (KeyError, TypeError, ValueError) as exc:
            raise HarmonyError(f"grammar/header.json is malformed: {exc}") from None

    def _take_channel(self, text: str, marker_at: int) -> tuple[str, str]:
        """Split off ``<|channel|>VALUE`` at ``marker_at``: the value ends at whitespace or '<'."""
        after = text[marker_at + len(self.channel_marker):]
        end = len(after)
        for i, ch in enumerate(after):
            if ch == "<" or ch in _WHITE_SPACE:
                end = i
                break
        return after[:end], text[:marker_at] + after[end:]

    def interpret(self, text: str, role: Optional[str], *, fields: bool = True,
                  tool_names: Container[str] = ()) -> ParsedHeader:
        """Read a header's text. ``role`` is the role given to the parser for the first message.

        With ``fields=False`` (a tolerant header cut off by a stop token) only the
        role and channel are read and the other words are returned as ``remaining``.
        A first word in ``tool_names`` is read as a tool author even without a
        recipient (the validator knows the transcript's tools; the reference does not).
        Raises :class:`HeaderError` with the reference's wording.
        """
        channel = None
        at = text.find(self.channel_marker)
        if at >= 0:
            channel, text = self._take_channel(text, at)
            if not channel:
                raise HeaderError("channel marker present but no channel value found in header")
            if self.drop_extra_channels:
                at = text.find(self.channel_marker)
                while at >= 0:
                    _, text = self._take_channel(text, at)
                    at = text.find(self.channel_marker, at)
        text = text.strip(_WHITE_SPACE)
        if self.constrain_marker in text:
            text = text.replace(self.constrain_marker, " " + self.constrain_marker).strip(_WHITE_SPACE)
        parts = [p for p in _ASCII_WHITESPACE.split(text) if p]

        first_word: Optional[str] = None
        if role is None:
            if not parts:
                raise HeaderError("message header did not contain a role")
            first_word = parts[0]
            if first_word in ROLES:
                role = first_word
            elif len(parts) > 1 or first_word.startswith(self.recipient_prefix) or first_word in tool_names:
                parts.pop(0)
                role = "tool"
            else:
                raise HeaderError(f"Unknown role: {first_word}")
        if parts and parts[0] == role:
            parts.pop(0)

        recipient = content_type = None
        if fields and parts:
            last = parts.pop()
            prefix = self.recipient_prefix
            if last.startswith(prefix):
                recipient = last[len(prefix):]
            elif not parts:
                recipient = last
            else:
                content_type = last
                if parts:
                    raw = parts.pop()
                    recipient = raw[len(prefix):] if raw.startswith(prefix) else raw
        remaining = " ".join(parts) if parts else None
        return ParsedHeader(
            role=role,
            name=first_word if role == "tool" else None,
            recipient=recipient,
            channel=channel,
            content_type=content_type,
            remaining=remaining,
        )

    def recover(self, text: str, role: str, *, given: bool, headless: bool,
                channels: Container[str]) -> tuple[ParsedHeader, list[Note]]:
        """Read a header the strict rules refuse, as plausibly as possible, and say what was changed.

        ``role`` is the completion's role: ``given`` when the header follows ``<|start|>ROLE``
        (the first of a completion), else the role to use if the header names none. A
        ``headless`` header came where ``<|start|>`` was due: its first word may be a channel in
        ``channels`` written without ``<|channel|>``. Each note names a rule of ``grammar/recovery.json``.

        >>> h = HeaderRules.load()
        >>> h.recover("commentary to=functions.f to=functions.f <|constrain|>json", "assistant",
        ...           given=False, headless=True, channels={"commentary"})
        (ParsedHeader(role='assistant', name=None, recipient='functions.f', channel='commentary', content_type='<|constrain|>json', remaining=None), [('repeated_recipient', {'recipient': 'to=functions.f', 'count': 2})])
        """
        notes: list[Note] = []
        channel = None
        at = text.find(self.channel_marker)
        if at >= 0:
            channel, text = self._take_channel(text, at)
            at = text.find(self.channel_marker)
            while at >= 0:
                extra, text = self._take_channel(text, at)
                channel = channel or extra
                at = text.find(self.channel_marker, at)
            if not channel:
                notes.append(("empty_channel", {}))
                channel = None
        text = text.strip(_WHITE_SPACE)
        if self.constrain_marker in text:
            text = text.replace(self.constrain_marker, " " + self.constrain_marker).strip(_WHITE_SPACE)
        parts = [p for p in _ASCII_WHITESPACE.split(text) if p]
        name = None
        if headless and channel is None and parts and parts[0] in channels:
            channel = parts.pop(0)
        if parts and parts[0] in ROLES and not given:
            role = parts.pop(0)
            if role == "tool":
                name = role  # as the strict rules name a tool message whose first word is "tool"
        elif not parts and not given and not headless:
            notes.append(("unknown_role", {"word": "", "role": role}))
        elif parts and not given and not headless and not parts[0].startswith(
                (self.recipient_prefix, self.constrain_marker)):
            if len(parts) > 1 and any(p.startswith(self.recipient_prefix) for p in parts[1:]):
                role, name = "tool", parts.pop(0)
            else:
                word = parts.pop(0)
                if channel is None and word in channels:
                    channel = word
                notes.append(("unknown_role", {"word": word, "role": role}))
        if parts and parts[0] == role:
            parts.pop(0)
        recipients = [p for p in parts if p.startswith(self.recipient_prefix)]
        constrained = [p for p in parts if p.startswith(self.constrain_marker)]
        first_to = parts.index(recipients[0]) if recipients else len(parts)
        after = [p for p in parts[first_to + 1:] if p not in recipients and p not in constrained]
        others = [p for p in parts if p not in recipients and p not in constrained]
        recipient = content_type = None
        if recipients:
            recipient = recipients[0][len(self.recipient_prefix):]
            if all(r == recipients[0] for r in recipients[1:]) and len(recipients) > 1:
                notes.append(("repeated_recipient", {"recipient": recipients[0], "count": len(recipients)}))
            elif len(recipients) > 1:
                rest = [r for r in recipients[1:] if r != recipients[0]]
                notes.append(("second_recipient", {"recipient": recipients[0], "others": ", ".join(map(repr, rest))}))
        if constrained:
            content_type = constrained[0]
            others += constrained[1:]
        elif after:
            content_type = after[0]  # a plain word after the recipient, as the strict rules read "to=x json"
            others.remove(after[0])
        if others:
            notes.append(("leftover_words", {"words": " ".join(others)}))
        return ParsedHeader(role=role, name=name, recipient=recipient, channel=channel,
                            content_type=content_type), notes

    def constrain_misread(self, parsed: ParsedHeader) -> tuple[ParsedHeader, list[Note]]:
        """The strict rules read a lone ``<|constrain|>`` word as the recipient; recovery reads it as the content type."""
        if parsed.recipient is None or not parsed.recipient.startswith(self.constrain_marker):
            return parsed, []
        word = parsed.recipient
        fixed = ParsedHeader(parsed.role, parsed.name, None, parsed.channel, parsed.content_type or word,
                             parsed.remaining)
        return fixed, [("constrain_word", {"word": word})]
