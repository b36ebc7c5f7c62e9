"""Rendering: messages and conversations to token ids, through the templates and the tokenizer bridge.

Data flows one way: model -> templates -> bridge -> tokens. Headers and the
system and developer bodies are cached by value, since a server re-renders the
same ones on every turn.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable, Sequence

import pydantic_core

from harmony_grammar.errors import HarmonyError
from harmony_grammar.model import (
    Content,
    HarmonyDataError,
    DeveloperContent,
    Message,
    RenderConversationConfig,
    RenderOptions,
    Role,
    SystemContent,
    TextContent,
)
from harmony_grammar.format.grammar import Grammar
from harmony_grammar.format.templating import Special, TemplateSet
from harmony_grammar.format.tokens import Tokenizer

__all__ = ["Renderer"]

_CACHE_LIMIT = 4096


class _BoundedCache(dict):  # type: ignore[type-arg]
    """A dict that forgets everything when it grows past a limit (hostile inputs cannot grow it forever)."""

    def put(self, key: Any, value: Any) -> None:
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        self[key] = value


class Renderer:
    """Renders with one template set and one tokenizer."""

    def __init__(self, tokenizer: Tokenizer, templates: TemplateSet, grammar: Grammar) -> None:
        rules = templates.read_json("format.json")
        self._tok = tokenizer
        self._templates = templates
        self._grammar = grammar
        self._encode = tokenizer.encode_ordinary
        self._header = templates.macro("header.jinja", "header")
        self._terminator = templates.macro("header.jinja", "terminator")
        self._content_roles: dict[str, str] = dict(rules["content_roles"])
        self._functions_ns: str = rules["function_tools_namespace"]
        self._final: str = rules["final_channel"]
        self._analysis: str = rules["analysis_channel"]
        self._training_end = tokenizer.special_id(rules["training_end"])
        self._headers = _BoundedCache()
        self._bodies = _BoundedCache()

    # -- pieces ------------------------------------------------------------

    def _pieces_to_tokens(self, rendered: str, what: str) -> list[int]:
        out: list[int] = []
        for piece in self._templates.split(rendered):
            if isinstance(piece, Special):
                if piece.text not in self._tok.special_tokens:
                    raise HarmonyError(f"{what}: template emitted {piece.text!r}, which is not a special token")
                out.append(self._tok.special_tokens[piece.text])
            else:
                out.extend(self._encode(piece))
        return out

    def _header_tokens(self, message: Message) -> tuple[list[int], int]:
        author = message.author
        role = author.role.value if isinstance(author.role, Role) else author.role
        key = (role, author.name, message.recipient, message.channel, message.content_type)
        found = self._headers.get(key)
        if found is None:
            fields = dict(zip(("role", "name", "recipient", "channel", "content_type"), key))
            for field, value in fields.items():
                where = f"message.{'author.' if field in ('role', 'name') else ''}{field}"
                if value is not None and not isinstance(value, str):
                    raise HarmonyDataError(f"{where}: expected a string, found {type(value).__name__}")
                if value is not None:
                    _check_text(value, where)
            header = self._pieces_to_tokens(self._header(**fields), "header.jinja header()")
            end = self._pieces_to_tokens(self._terminator(role=role, recipient=message.recipient),
                                         "header.jinja terminator()")
            if len(end) != 1:
                raise HarmonyError(f"{self._templates.find('header.jinja')}: terminator() must emit one "
                                   f"token, emitted {self._tok.decode_bytes(end)!r}")
            try:
                self._grammar.check_message_frame(header, end[0])
            except HarmonyError as exc:
                shown = self._tok.decode_bytes(header + [end[0]]).decode("utf-8", "replace")
                raise HarmonyError(
                    f"{self._templates.find('header.jinja')}: the header rendered for {fields} is not a "
                    f"valid message frame ({shown!r}): {exc}") from None
            found = (header, end[0])
            self._headers.put(key, found)
        return found

    def _body_tokens(self, content: Content, kind: str, has_function_tools: bool) -> list[int]:
        try:
            raw = pydantic_core.to_json(content, exclude_none=True, by_alias=True)
        except (ValueError, RecursionError) as exc:  # PydanticSerializationError is a ValueError
            raise HarmonyDataError(f"{type(content).__name__} is not valid JSON data: {exc}") from None
        key = (kind, raw, has_function_tools)
        found = self._bodies.get(key)
        if found is None:
            try:
                data = json.loads(raw)
                _check_json_numbers(data, type(content).__name__)
                if kind == "system_content":
                    name = "system.jinja"
                    text = self._templates.render(name, system=data, has_function_tools=has_function_tools)
                else:
                    name = "developer.jinja"
                    text = self._templates.render(name, developer=data)
            except RecursionError:
                raise HarmonyError(f"{type(content).__name__}: tool parameter schema is nested too deeply") from None
            if any(isinstance(p, Special) for p in self._templates.split(text)):
                raise HarmonyError(f"{self._templates.find(name)}: a message body is text only; "
                                   "special() may only be used in header.jinja")
            found = self._encode(text)
            self._bodies.put(key, found)
        return found

    # -- messages ----------------------------------------------------------

    def render_into(self, out: list[int], message: Message, has_function_tools: bool) -> None:
        """Append the tokens of one message to ``out``."""
        header, end = self._header_tokens(message)
        out.extend(header)
        role = message.author.role
        for index, content in enumerate(message.content):
            kind = type(content)
            if kind is TextContent or isinstance(content, TextContent):
                text = content.text
                if type(text) is not str:
                    raise HarmonyDataError(f"message.content[{index}].text: expected a string")
                _check_text(text, f"message.content[{index}].text")
                out.extend(self._encode(text))
                continue
            if isinstance(content, SystemContent):
                tag = "system_content"
            elif isinstance(content, DeveloperContent):
                tag = "developer_content"
            else:
                raise HarmonyError(
                    f"message.content[{index}]: unsupported content type {type(content).__name__}"
                )
            allowed = self._content_roles[tag]
            if role != allowed:
                who = type(content).__name__
                raise HarmonyError(
                    f"message.content[{index}]: {who} may only appear in {allowed} messages, "
                    f"found in a message from {getattr(role, 'value', role)!r}"
                )
            out.extend(self._body_tokens(content, tag, has_function_tools))
        out.append(end)

    def render_message(self, message: Message, options: RenderOptions | None) -> list[int]:
        """The tokens of one message."""
        out: list[int] = []
        self.render_into(out, message, bool(options and options.conversation_has_function_tools))
        return out

    # -- conversations -----------------------------------------------------

    def _has_function_tools(self, messages: Sequence[Message]) -> bool:
        ns = self._functions_ns
        for message in messages:
            for content in message.content:
                if isinstance(content, DeveloperContent) and content.tools:
                    space = content.tools.get(ns)
                    if space is not None and space.tools:
                        return True
        return False

    def _kept(self, messages: Sequence[Message], auto_drop_analysis: bool) -> Sequence[int]:
        """The indices of the messages to render: analysis before the first final is dropped once the assistant is done."""
        everything = range(len(messages))
        if not auto_drop_analysis:
            return everything
        last_assistant_final = False
        for message in reversed(messages):
            if message.author.role == Role.ASSISTANT:
                last_assistant_final = message.channel == self._final
                break
        if not last_assistant_final:
            return everything
        first_final = next((i for i, m in enumerate(messages) if m.channel == self._final), None)
        if first_final is None:
            return everything
        return [i for i, m in enumerate(messages) if not (i < first_final and m.channel == self._analysis)]

    def render_conversation(self, messages: Iterable[Message], config: RenderConversationConfig | None,
                            spans: list[tuple[int, int, int]] | None = None) -> list[int]:
        """The tokens of a conversation, without a next turn.

        With ``spans``, appends ``(message index, first token, end token)`` for each rendered message.
        """
        seq = _as_messages(messages)
        has_fn = self._has_function_tools(seq)
        drop = True if config is None else config.auto_drop_analysis
        out: list[int] = []
        for index in self._kept(seq, drop):
            start = len(out)
            self.render_into(out, seq[index], has_fn)
            if spans is not None:
                spans.append((index, start, len(out)))
        return out

    def render_for_completion(
        self, messages: Iterable[Message], next_turn_role: Role | str, config: RenderConversationConfig | None
    ) -> list[int]:
        """The conversation followed by ``<|start|>`` and the next role, ready for sampling."""
        try:
            role = Role(next_turn_role)
        except ValueError:
            raise HarmonyError(f"next_turn_role: unknown role {next_turn_role!r}") from None
        out = self.render_conversation(messages, config)
        out.extend(self.next_turn(role))
        return out

    def next_turn(self, role: Role) -> list[int]:
        """What opens a turn of ``role`` for sampling (``next_turn.jinja``), e.g. ``<|start|>assistant``."""
        return self._pieces_to_tokens(self._templates.render("next_turn.jinja", role=role.value), "next_turn.jinja")

    def render_for_training(self, messages: Iterable[Message], config: RenderConversationConfig | None,
                            spans: list[tuple[int, int, int]] | None = None) -> list[int]:
        """The conversation, ending in ``<|return|>`` when the last message is the assistant's final answer."""
        seq = _as_messages(messages)
        out = self.render_conversation(seq, config, spans)
        if seq and out:
            last = seq[-1]
            if last.author.role == Role.ASSISTANT and last.channel == self._final:
                out[-1] = self._training_end
        return out


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_text(text: str, where: str) -> None:
    """Lone surrogates are not text; the reference refuses them (its JSON round trip fails)."""
    if not text.isascii():
        found = _SURROGATE.search(text)
        if found:
            raise HarmonyDataError(f"{where}: lone surrogate U+{ord(found.group()):04X} at offset {found.start()} "
                                   "is not valid Unicode text")


def _check_json_numbers(value: Any, where: str) -> None:
    """NaN, infinities and integers beyond the float range are not JSON numbers; the reference refuses them."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise HarmonyDataError(f"{where}: {value} is not a valid JSON number")
    elif isinstance(value, int) and not isinstance(value, bool):
        if not -(2**63) <= value < 2**64:
            try:
                float(value)
            except OverflowError:
                raise HarmonyDataError(f"{where}: the integer {str(value)[:20]}... is out of range for JSON") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json_numbers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_numbers(item, f"{where}[{index}]")


def _as_messages(messages: Iterable[Message]) -> list[Message]:
    seq = list(messages)
    for index, message in enumerate(seq):
        if not isinstance(message, Message):
            raise HarmonyError(f"messages[{index}]: expected a Message, found {type(message).__name__}")
    return seq
