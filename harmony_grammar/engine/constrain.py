"""Constrained decoding: the grammar of every completion gpt-oss may write for a conversation.

``HarmonyEncoding.completion_grammar(conversation, tool_choice=...)`` renders
``templates/constraint.lark.jinja`` from the conversation's own declarations
(the system message's channels and built-in tools, the developer message's
functions and response formats) into llguidance's Lark syntax. Preambles on the
analysis and commentary channels, calls only to declared tools with arguments
valid against their schemas, a final answer (JSON when a response format is
declared), no special token inside text::

    >>> from harmony_grammar import (Conversation, DeveloperContent, Message, Role, SystemContent,
    ...                              ToolDescription, load_harmony_encoding)
    >>> enc = load_harmony_encoding("HarmonyGptOss")
    >>> tool = ToolDescription.new("get_weather", "Weather.", {"type": "object",
    ...     "properties": {"city": {"type": "string"}}, "required": ["city"]})
    >>> convo = Conversation.from_messages([
    ...     Message.from_role_and_content(Role.SYSTEM, SystemContent.new()),
    ...     Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new().with_function_tools([tool])),
    ...     Message.from_role_and_content(Role.USER, "Weather in Paris?")])
    >>> grammar = enc.completion_grammar(convo, tool_choice="required")
    >>> grammar.check(enc.encode('<|channel|>commentary to=functions.get_weather <|constrain|>json'
    ...                          '<|message|>{"city":"Paris"}<|call|>', allowed_special="all"))
    >>> grammar.check(enc.encode('<|channel|>final<|message|>Sunny.<|return|>', allowed_special="all"))
    1

``check`` gives None when the grammar accepts the tokens through a stop token,
else the index of the first token it refuses. ``matcher()`` is an
``llguidance.LLMatcher`` for a sampler; llguidance is the optional
``constrain`` extra, and the core package never imports it.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Protocol, Sequence, Union

from harmony_grammar.errors import HarmonyError
from harmony_grammar.format.tokens import as_token_ids
from harmony_grammar.model import Conversation, DeveloperContent, Message, SystemContent

if TYPE_CHECKING:
    import llguidance

    from harmony_grammar.engine.parse import Parser
    from harmony_grammar.format.templating import TemplateSet
    from harmony_grammar.format.tokens import Tokenizer


class EncodingLike(Protocol):
    """What the constraint reads from a ``HarmonyEncoding``: its templates, tokenizer bridge and parser."""

    @property
    def templates(self) -> "TemplateSet": ...

    @property
    def tokenizer(self) -> "Tokenizer": ...

    @property
    def parser(self) -> "Parser": ...

__all__ = ["CompletionGrammar", "completion_grammar", "lltokenizer", "ToolChoice", "TEMPLATE"]

TEMPLATE = "constraint.lark.jinja"

ToolChoice = Union[str, Mapping[str, Any]]


def _llguidance() -> Any:
    try:
        import llguidance
    except ImportError:
        raise HarmonyError("constrained decoding needs llguidance: pip install 'harmony-grammar[constrain]'") from None
    return llguidance


_tokenizers: dict[int, Any] = {}
_lock = threading.Lock()
# Compiled matchers by (tokenizer, grammar text), the oldest forgotten first past the limit; never consumed,
# only copied.
_compiled: dict[tuple[int, str], Any] = {}
_COMPILED_LIMIT = 64


def lltokenizer(encoding: EncodingLike) -> "llguidance.LLTokenizer":
    """llguidance's tokenizer for ``encoding``, built once from the tokenizer bridge (no second vocabulary file)."""
    bridge = encoding.tokenizer
    found = _tokenizers.get(id(bridge))
    if found is None:
        with _lock:
            found = _tokenizers.get(id(bridge))
            if found is None:
                ll = _llguidance()
                n = bridge.table.n_ranks
                ranks = dict(zip(bridge.token_bytes[:n], range(n)))
                found = ll.LLTokenizer.from_tiktoken(
                    encoder=ranks, special_tokens=dict(bridge.special_tokens), pattern=bridge.table.pattern,
                    eos_token=sorted(bridge.stop_tokens_for_assistant_actions), n_vocab=bridge.n_vocab)
                _tokenizers[id(bridge)] = found
    return found


@dataclass(frozen=True)
class CompletionGrammar:
    """A completion's grammar: ``text`` in llguidance's Lark syntax, for any server that takes one."""

    text: str
    encoding: EncodingLike
    tool_choice: str

    def compile(self) -> "llguidance.LLMatcher":
        """A newly compiled ``llguidance.LLMatcher``; ``HarmonyError`` if llguidance refuses the grammar.

        Compiling costs about 1 ms plus 0.6 ms for each JSON Schema; :meth:`matcher` does it once.
        """
        ll = _llguidance()
        found = ll.LLMatcher(lltokenizer(self.encoding), self.text, log_level=0)
        if found.is_error():
            raise HarmonyError(f"llguidance refused the completion grammar: {found.get_error()}")
        return found

    def matcher(self) -> "llguidance.LLMatcher":
        """A fresh ``llguidance.LLMatcher`` for one completion: a copy of this grammar's compiled matcher.

        The first call for a grammar text compiles it; later ones, for any ``CompletionGrammar``
        with the same text (a server's next request with the same tools), copy it in microseconds.
        """
        key = (id(self.encoding.tokenizer), self.text)
        compiled = _compiled.get(key)
        if compiled is None:
            compiled = self.compile()
            with _lock:
                if len(_compiled) >= _COMPILED_LIMIT:
                    _compiled.pop(next(iter(_compiled)))
                _compiled[key] = compiled
        return compiled.deep_copy()

    def check(self, tokens: Sequence[int]) -> Optional[int]:
        """None if the grammar accepts ``tokens`` through a stop token, else the index of the first refused one.

        Tokens that end early, before the grammar can stop, are refused at their end (``len(tokens)``).
        """
        ids = as_token_ids(tokens)
        matcher = self.matcher()
        for i, token in enumerate(ids):
            if matcher.is_stopped() or not matcher.consume_token(token):
                return i
        return None if matcher.is_stopped() or matcher.is_accepting() else len(ids)

    def allowed(self, tokens: Sequence[int], *, limit: int = 20) -> list[int]:
        """Up to ``limit`` of the token ids the grammar allows after ``tokens`` (a prefix it accepts)."""
        matcher = self.matcher()
        for token in as_token_ids(tokens):
            if not matcher.consume_token(token):
                raise HarmonyError(f"the grammar refuses token {token} of the prefix")
        mask = matcher.compute_bitmask()
        out: list[int] = []
        for byte_index, byte in enumerate(mask):
            while byte and len(out) < limit:
                low = byte & -byte
                out.append(byte_index * 8 + low.bit_length() - 1)
                byte ^= low
            if len(out) >= limit:
                break
        return out


def _system_and_developer(conversation: Conversation) -> tuple[Optional[SystemContent], Optional[DeveloperContent]]:
    system = developer = None
    for message in conversation.messages:
        for content in message.content:
            if isinstance(content, SystemContent) and system is None:
                system = content
            elif isinstance(content, DeveloperContent) and developer is None:
                developer = content
    return system, developer


def _with_options(schema: Any, options: Mapping[str, Any]) -> Any:
    """A JSON Schema with llguidance's compile options (``x-guidance``) added at its root."""
    if not isinstance(schema, dict):
        return schema
    out = copy.deepcopy(schema)
    out.setdefault("x-guidance", dict(options))
    return out


def _named(tool_choice: ToolChoice) -> Optional[str]:
    if isinstance(tool_choice, Mapping):
        inner = tool_choice.get("function") if tool_choice.get("type") == "function" else tool_choice
        name = inner.get("name") if isinstance(inner, Mapping) else None
        if not isinstance(name, str) or not name:
            raise HarmonyError(f"tool_choice: expected {{'type': 'function', 'function': {{'name': ...}}}} or "
                               f"{{'name': ...}}, found {dict(tool_choice)!r}")
        return name
    return None


def completion_grammar(encoding: EncodingLike, conversation: Union[Conversation, Iterable[Message]], *,
                       tool_choice: ToolChoice = "auto") -> CompletionGrammar:
    """The grammar of every completion the model may write after this conversation's ``<|start|>assistant``.

    ``tool_choice`` is ``"auto"``, ``"none"`` (no calls), ``"required"`` (the completion
    ends with a call), or one function, as ``{"type": "function", "function": {"name": N}}``
    or ``{"name": N}``.
    """
    convo = conversation if isinstance(conversation, Conversation) else Conversation.from_messages(list(conversation))
    templates = encoding.templates
    facts = templates.read_json("constraint.json")
    rules = templates.read_json("format.json")
    header = encoding.parser.header
    system, developer = _system_and_developer(convo)
    system = system or SystemContent.new()
    channels = list(system.channel_config.valid_channels) if system.channel_config else []
    final = rules["final_channel"] if rules["final_channel"] in channels else None
    options = facts["json_options"]

    functions_ns = rules["function_tools_namespace"]
    # Calls go only on channels the system message declares.
    function_channels = [c for c in [facts["function_channel"]] if c in channels]
    builtin_channels = [c for c in facts["builtin_channels"] if c in channels]
    calls: list[dict[str, Any]] = []
    for namespace in (developer.tools or {}).values() if developer else ():
        for tool in namespace.tools:
            schema = tool.parameters if tool.parameters is not None else {"type": "object"}
            calls.append({"recipient": f"{namespace.name}.{tool.name}", "kind": "function",
                          "name": tool.name if namespace.name == functions_ns else f"{namespace.name}.{tool.name}",
                          "channels": function_channels, "schema": _with_options(schema, options)})
    for namespace in (system.tools or {}).values():
        if namespace.name == facts["python_tool"]:
            calls.append({"recipient": namespace.name, "kind": "builtin", "name": namespace.name,
                          "channels": builtin_channels, "schema": None})
            continue
        for tool in namespace.tools:
            schema = tool.parameters if tool.parameters is not None else {"type": "object"}
            calls.append({"recipient": f"{namespace.name}.{tool.name}", "kind": "builtin",
                          "name": f"{namespace.name}.{tool.name}", "channels": builtin_channels,
                          "schema": _with_options(schema, options)})

    calls = [c for c in calls if c["channels"]]
    named = _named(tool_choice)
    if named is not None:
        mode = "named"
        chosen = [c for c in calls if c["name"] == named or c["recipient"] == named]
        if not chosen:
            known = ", ".join(c["name"] for c in calls) or "none"
            raise HarmonyError(f"tool_choice: no declared tool named {named!r} (declared: {known})")
        calls = chosen[:1]
    elif tool_choice in ("auto", "none", "required"):
        mode = str(tool_choice)
        if mode == "required" and not calls:
            raise HarmonyError("tool_choice: 'required' but the conversation declares no tools")
    else:
        raise HarmonyError(f"tool_choice: expected 'auto', 'none', 'required' or a function, found {tool_choice!r}")
    if mode in ("auto", "none") and final is None:
        raise HarmonyError(f"the system message's valid channels ({', '.join(channels)}) have no "
                           f"{rules['final_channel']!r} channel for the answer")
    response_schemas = [_with_options(f.schema_, options) for f in (developer.response_formats or [])] \
        if developer else []

    tokens = encoding.tokenizer
    text = templates.render(
        TEMPLATE,
        preamble_channels=[c for c in channels if c != final],
        final_channel=final,
        calls=calls if mode != "none" else [],
        response_schemas=response_schemas,
        mode=mode,
        facts=facts,
        prefix=header.recipient_prefix,
        constrain=header.constrain_marker,
        start=tokens.special_by_id[tokens.special_id("<|start|>")],
        channel=header.channel_marker,
        message=tokens.special_by_id[tokens.special_id("<|message|>")],
    )
    return CompletionGrammar(text=text, encoding=encoding, tool_choice=mode)
