"""The rules shared by the batch and streaming chat paths: ``templates/chat.json``, tool-call ids and the message builder."""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import warnings
from functools import lru_cache
from typing import Any, Optional

from harmony_grammar.errors import HarmonyError, HarmonyWarning
from harmony_grammar.model import Message, Role, TextContent
from harmony_grammar.resources import data_dir, load_json

__all__ = ["mapping_rules", "builtin_tools", "tool_call_id", "new_seed", "message_kind", "function_name",
           "json_text", "ChatMessageBuilder", "warn"]

@lru_cache(maxsize=None)
def mapping_rules() -> dict[str, Any]:
    return dict(load_json("templates", "chat.json"))


@lru_cache(maxsize=None)
def builtin_tools() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in (data_dir("templates") / "tools").glob("*.json")))


def tool_call_id(seed: str, index: int) -> str:
    """The id of the ``index``-th tool call under ``seed``: the same seed and index give the same id.

    >>> tool_call_id("chatcmpl-123", 0)
    'call_e138c1635b93470b4b6981a9'
    """
    rules = mapping_rules()
    digest = hashlib.sha256(f"{seed}\x00{index}".encode("utf-8", "surrogatepass")).hexdigest()
    return rules["tool_call_id_prefix"] + digest[: rules["tool_call_id_length"]]


def new_seed() -> str:
    """A fresh random seed for tool-call ids (ids from different completions never collide)."""
    return secrets.token_hex(8)


def json_text(value: Any) -> str:
    """A value given as an object where harmony holds text (arguments, tool results), as compact JSON.

    >>> json_text({"city": "Zürich", "days": [1, 2]})
    '{"city":"Zürich","days":[1,2]}'
    """
    rule = mapping_rules()["json_text"]
    return json.dumps(value, separators=tuple(rule["separators"]), ensure_ascii=rule["ensure_ascii"])




def message_kind(channel: Optional[str], recipient: Optional[str]) -> str:
    """Where a parsed assistant message goes in a chat message: ``tool_call``, ``reasoning`` or ``content``.

    >>> message_kind("commentary", "functions.f"), message_kind("analysis", None), message_kind("commentary", None)
    ('tool_call', 'reasoning', 'content')
    """
    if recipient is not None:
        return "tool_call"
    if channel == mapping_rules()["reasoning_channel"]:
        return "reasoning"
    return "content"


def function_name(recipient: str) -> str:
    """The chat tool name of a harmony recipient: ``functions.`` is dropped, built-in names are kept whole."""
    prefix = mapping_rules()["functions_namespace"] + "."
    return recipient[len(prefix):] if recipient.startswith(prefix) else recipient


class ChatMessageBuilder:
    """Accumulates parsed messages into one chat assistant message; shared by batch and streaming."""

    def __init__(self, seed: str, first_call: int = 0) -> None:
        self.seed = seed
        self.first_call = first_call
        self.content: Optional[list[str]] = None
        self.reasoning: Optional[list[str]] = None
        self.calls: list[dict[str, Any]] = []

    def add_text(self, kind: str, text: str) -> None:
        """Add the text of one whole content or reasoning message."""
        parts = self.content if kind == "content" else self.reasoning
        if parts is None:
            parts = []
            if kind == "content":
                self.content = parts
            else:
                self.reasoning = parts
        parts.append(text)

    def add_call(self, recipient: str, arguments: str) -> dict[str, Any]:
        call = {"id": tool_call_id(self.seed, self.first_call + len(self.calls)), "type": "function",
                "function": {"name": function_name(recipient), "arguments": arguments}}
        self.calls.append(call)
        return call

    def add(self, message: Message, where: str) -> None:
        if message.author.role != Role.ASSISTANT:
            raise HarmonyError(f"{where}: expected an assistant message, found one from "
                               f"{getattr(message.author.role, 'value', message.author.role)!r}")
        text = "".join(c.text for c in message.content if isinstance(c, TextContent))
        kind = message_kind(message.channel, message.recipient)
        if kind == "tool_call":
            self.add_call(message.recipient or "", text)
        else:
            self.add_text(kind, text)

    def result(self) -> dict[str, Any]:
        rules = mapping_rules()
        join = rules["joiner"].join
        out: dict[str, Any] = {"role": "assistant",
                               "content": None if self.content is None else join(t for t in self.content if t)}
        if self.reasoning is not None:
            out[rules["output_reasoning_field"]] = join(t for t in self.reasoning if t)
        if self.calls:
            out["tool_calls"] = copy.deepcopy(self.calls)
        return out


def warn(message: str) -> None:
    """Report output that did not parse and was kept as raw text."""
    warnings.warn(message, HarmonyWarning, stacklevel=3)
