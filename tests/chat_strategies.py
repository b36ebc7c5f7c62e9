"""Hypothesis strategies for Chat Completions chats that the chat bridge accepts, for the chat template's property tests.

A :class:`Chat` is what ``apply_chat_template`` takes: messages, tools,
``add_generation_prompt`` and the template keywords. :func:`chats` draws
random tools, whose parameter schemas come from tests/generators.py's
``schema()`` (the generator the TypeScript-declaration differential tests
use), tool rounds (calls with or without ids, parallel calls, results as text,
objects, lists or text parts, answered by id, by name, in order or through the
legacy ``function`` role, built-in ``python`` and ``browser`` calls),
reasoning in any of its three fields, preambles, content as text parts,
leading system and developer messages (empty ones too) and every keyword.
Texts mix unicode, whitespace, text that looks like Jinja or like the format,
and, with ``special=True``, special-token spellings, which transformers
tokenizes as special tokens: :func:`holds_special_text` tells which chats
hold them. Every chat drawn is accepted by ``enc.apply_chat_template``
(tests/test_chat_strategies.py checks it).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Optional

from hypothesis import strategies as st

import generators
from harmony_grammar.format.tokens import TokenTable

__all__ = ["Chat", "chats", "any_chats", "texts", "holds_special_text", "strip_special", "features", "first_difference", "DATE",
           "SPECIAL_SPELLINGS"]

DATE = "2025-06-28"

# Every special token's text, named and reserved: transformers reads any of them in text as the token.
_SPECIAL = frozenset(TokenTable.load().all_special())
_CANDIDATE = re.compile(r"<\|[A-Za-z0-9_]+\|>")
SPECIAL_SPELLINGS = sorted(t for t in _SPECIAL if not t.startswith("<|reserved_")) + [
    "<|reserved_200000|>", "<|reserved_200013|>", "<|reserved_201088|>"]

JINJA = ["{{ x }}", "{{", "}}", "{%", "%}", "{% if %}", "{% endif %}", "{%- for m in messages -%}", "{#", "#}",
         "{# note #}", "{{ raise_exception('no') }}", "{% raw %}", "{% endraw %}", "{{ '<' ~ '|end|' ~ '>' }}",
         "{{- messages[0]['content'] | tojson -}}", "{% set x = 1 %}", "${x}", "{{{", "}}}"]
FORMAT = ["<|", "|>", "<|end", "end|>", "<||>", "<|END|>", "< |end|>", "<|constrain|", "to=", "to=functions.f",
          "<|reserved_5|>", "# Tools", "## functions", "namespace functions {", "} // namespace functions",
          "// ", "=>", "type f = () => any;", "# Instructions", "Reasoning: high", "Current date: ", "analysis",
          "commentary", "final", "assistant", "json", " <|constrain|", "functions.get_weather"]
_POOL = JINJA + FORMAT + generators.WORDS + generators.UNICODE + generators.PUNCT + generators.SPACES
_CHARS = st.characters(exclude_categories=("Cs",))  # any code point but a lone surrogate


def _special_in(text: str) -> bool:
    return any(m.group() in _SPECIAL for m in _CANDIDATE.finditer(text)) if "<|" in text else False


def strip_special(value: Any) -> Any:
    """``value`` with every special-token spelling in its strings (dict keys too) broken: ``<|end|>`` -> ``<end|>``."""
    if isinstance(value, str):
        while _special_in(value):
            value = _CANDIDATE.sub(lambda m: "<" + m.group()[2:] if m.group() in _SPECIAL else m.group(), value)
        return value
    if isinstance(value, dict):
        return {strip_special(k): strip_special(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(strip_special(v) for v in value)
    return value


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


@lru_cache(maxsize=None)
def texts(special: bool = False, min_size: int = 0) -> st.SearchStrategy[str]:
    """Short texts of words, unicode, whitespace, any code points and Jinja and format lookalikes
    (special-token spellings too, with ``special``)."""
    pieces = [st.sampled_from(_POOL), st.text(_CHARS, max_size=5)]
    if special:
        pieces.append(st.sampled_from(SPECIAL_SPELLINGS))
    out = st.lists(st.one_of(*pieces), min_size=min_size, max_size=5).map("".join)
    out = out if special else out.map(strip_special)
    return out.filter(bool) if min_size else out


@dataclass
class Chat:
    """One ``apply_chat_template`` call: its messages, tools, ``add_generation_prompt`` and template keywords."""

    messages: list[dict[str, Any]]
    tools: Optional[list[dict[str, Any]]] = None
    add_generation_prompt: bool = True
    kwargs: dict[str, Any] = field(default_factory=dict)

    def harmony(self, enc: Any, tokenize: bool = False) -> Any:
        """What ``enc.apply_chat_template`` gives for this chat (the text, or the ids with ``tokenize``)."""
        return enc.apply_chat_template(self.messages, self.tools, add_generation_prompt=self.add_generation_prompt,
                                       tokenize=tokenize, **self.kwargs)

    def through(self, render: Callable[..., Any], *args: Any, **extra: Any) -> Any:
        """``render(*args, messages, tools, add_generation_prompt=..., **keywords, **extra)``: the same call elsewhere."""
        return render(*args, self.messages, self.tools, add_generation_prompt=self.add_generation_prompt,
                      **self.kwargs, **extra)


def holds_special_text(chat: Chat) -> bool:
    """Whether any string of the chat (content, names, schemas, keywords, dict keys) spells a special token.

    transformers tokenizes such text as the special token, harmony as text, so their ids differ there.
    """
    return any(_special_in(s) for s in _strings([chat.messages, chat.tools, chat.kwargs]))


# -- pieces ------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _randomly(make: Callable[[random.Random], Any], special: bool) -> st.SearchStrategy[Any]:
    """A tests/generators.py generator, driven by Hypothesis' random (so it shrinks), its special spellings
    removed unless ``special``."""
    out = st.randoms(use_true_random=False).map(make)
    return out if special else out.map(strip_special)


def _parts(draw: Any, text: st.SearchStrategy[str], kinds: tuple[str, ...] = ("text",)) -> list[Any]:
    """Content as a list of text parts (of the kinds the bridge reads), sometimes with a bare string."""
    out: list[Any] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(kinds))
        value = draw(text)
        if kind == "refusal":
            out.append({"type": "refusal", "refusal": value})
        elif kind == "str":
            out.append(value)
        else:
            out.append({"type": kind, "text": value})
    return out


PART_KINDS = ("text", "text", "text", "input_text", "output_text", "refusal", "str")


def _content(draw: Any, text: st.SearchStrategy[str]) -> Any:
    """A ``content`` field: mostly a string, sometimes text parts."""
    return _parts(draw, text, PART_KINDS) if draw(st.integers(0, 4)) == 0 else draw(text)


@lru_cache(maxsize=None)
def _tool(special: bool) -> st.SearchStrategy[dict[str, Any]]:
    """A declared function tool: generators.tool()'s name, description and parameter schema, in one of the
    shapes the bridge reads (Chat Completions' nested one mostly)."""

    @st.composite
    def tool(draw: Any) -> dict[str, Any]:
        spec = draw(_randomly(generators.tool, special))
        if not spec["name"]:
            spec["name"] = "f"
        shape = draw(st.sampled_from(["nested"] * 6 + ["untyped", "flat", "no-description", "null-description"]))
        if shape == "no-description":
            spec.pop("description")
        elif shape == "null-description":
            spec["description"] = None
        if shape == "flat":
            return {"type": "function", **spec}
        return {"function": spec} if shape == "untyped" else {"type": "function", "function": spec}

    return tool()


def tool_name(tool: dict[str, Any]) -> str:
    return tool.get("function", tool)["name"]


def _json_text(draw: Any, value: Any) -> str:
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), None]))
    return json.dumps(value, separators=separators, ensure_ascii=draw(st.booleans()))


def _json_object(draw: Any, special: bool) -> dict[str, Any]:
    value = draw(_randomly(generators.json_value, special))
    return value if isinstance(value, dict) else {"value": value}


def _arguments(draw: Any, name: str, special: bool) -> Any:
    """A call's arguments: JSON text (mostly), any text, an object (encoded by the bridge) or nothing."""
    if name == "python":
        return draw(st.sampled_from(["print(1 + 1)", "import math\nmath.sqrt(2)", ""]) | texts(special))
    kind = draw(st.sampled_from(["json"] * 4 + ["text", "object", "empty", "none", "absent"]))
    if kind == "json":
        if name.startswith("browser."):
            return _json_text(draw, {"query": draw(texts(special))} if name == "browser.search" else {"id": 1})
        return _json_text(draw, _json_object(draw, special))
    if kind == "text":
        return draw(texts(special))
    if kind == "object":
        return _json_object(draw, special)
    return {"empty": "", "none": None, "absent": _ABSENT}[kind]


_ABSENT = object()  # a field left out of the message


def _recipient(name: str, builtins: tuple[str, ...]) -> str:
    """The harmony recipient of a chat tool name (the bridge's rule, to know what a result can answer)."""
    if name.split(".", 1)[0] in builtins:
        return name
    return name if name.startswith("functions.") else "functions." + name


def _json_list(rng: random.Random) -> list[Any]:
    return [generators.json_value(rng) for _ in range(rng.randint(0, 3))]


def _result_content(draw: Any, special: bool) -> Any:
    """A tool result: text, an object or a list (the bridge encodes both as JSON) or text parts."""
    kind = draw(st.sampled_from(["text"] * 4 + ["json-text", "object", "list", "parts", "empty-parts"]))
    if kind == "text":
        return draw(texts(special))
    if kind == "json-text":
        return _json_text(draw, _json_object(draw, special))
    if kind == "object":
        return _json_object(draw, special)
    if kind == "list":
        items = draw(_randomly(_json_list, special))
        if items and all(isinstance(i, dict) and "type" in i for i in items):
            items.append(1)  # a list of objects with "type" would be read as content parts
        return items
    if kind == "parts":
        return _parts(draw, texts(special), ("text", "input_text", "output_text"))
    return []


@dataclass
class _Waiting:
    """The bridge's list of calls still waiting for a result (mirrors convert._Calls)."""

    calls: list[tuple[Optional[str], str]] = field(default_factory=list)

    def take(self, call_id: Optional[str] = None, recipient: Optional[str] = None) -> None:
        for i, (waiting_id, waiting_recipient) in enumerate(self.calls):
            if (waiting_id == call_id) if call_id is not None else recipient in (None, waiting_recipient):
                del self.calls[i]
                return


def _tool_round(draw: Any, special: bool, names: list[str], builtins: tuple[str, ...], waiting: _Waiting,
                counter: list[int], results: bool) -> list[dict[str, Any]]:
    """An assistant message with tool calls (optional reasoning and preamble) and, with ``results``, results
    for some or all of them in some order."""
    text = texts(special)
    choices = list(names) or ["get_weather"]
    if "python" in builtins:
        choices.append("python")
    if "browser" in builtins:
        choices += ["browser.search", "browser.open", "browser.find"]
    calls = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(choices))
        shape = draw(st.sampled_from(["plain"] * 8 + ["prefixed", "undeclared", "python-undeclared"]))
        if shape == "prefixed" and "." not in name:
            name = "functions." + name
        elif shape == "undeclared":
            name = "lookup"
        elif shape == "python-undeclared":
            name = "python"  # a function named python when the built-in is off, the built-in when it is on
        counter[0] += 1
        call_id = draw(st.sampled_from([f"call_{counter[0]}"] * 4 + [None, _ABSENT]))
        function: dict[str, Any] = {"name": name}
        arguments = _arguments(draw, name, special)
        if arguments is not _ABSENT:
            function["arguments"] = arguments
        form = draw(st.sampled_from(["nested"] * 5 + ["untyped", "flat"]))
        call: dict[str, Any] = {"type": "function", **function} if form == "flat" else {"function": function}
        if form == "nested":
            call = {"type": "function", **call}
        if call_id is not _ABSENT:
            call = {"id": call_id, **call}
        calls.append((call, call_id if isinstance(call_id, str) else None, name))
        waiting.calls.append((call_id if isinstance(call_id, str) else None, _recipient(name, builtins)))
    message: dict[str, Any] = {"role": "assistant"}
    preamble = draw(st.sampled_from(["none", "none", "null", "text", "parts"]))
    if preamble == "null":
        message["content"] = None
    elif preamble == "text":
        message["content"] = draw(text)
    elif preamble == "parts":
        message["content"] = _parts(draw, text)
    _add_reasoning(draw, message, special)
    message["tool_calls"] = [c for c, _, _ in calls]
    out = [message]
    if not results:
        return out
    answered = draw(st.permutations(calls))
    if draw(st.integers(0, 3)) == 0:
        answered = answered[:draw(st.integers(0, len(answered)))]
    for _, call_id, name in answered:
        recipient = _recipient(name, builtins)
        modes = ["legacy"]
        if call_id is not None:
            modes += ["id"] * 6 + ["id-and-name"]
        if waiting.calls:
            modes += ["bare"] * 2
        if any(r == recipient for _, r in waiting.calls):
            modes += ["name"] * 2
        mode = draw(st.sampled_from(modes))
        result: dict[str, Any] = {"role": "function" if mode == "legacy" else "tool"}
        if mode in ("id", "id-and-name"):
            result["tool_call_id"] = call_id
            waiting.take(call_id=call_id)
        elif mode == "bare":
            if draw(st.booleans()):
                result["tool_call_id"] = None
            waiting.take()
        else:
            waiting.take(recipient=recipient)
        if mode in ("id-and-name", "name", "legacy"):
            result["name"] = name
        result["content"] = _result_content(draw, special)
        out.append(result)
    return out


REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")


def _add_reasoning(draw: Any, message: dict[str, Any], special: bool) -> None:
    """Reasoning, sometimes, in one of the three fields (or two, with the same text, or one with null)."""
    kind = draw(st.sampled_from(["none", "none", "one", "one", "one", "two", "null"]))
    if kind == "none":
        return
    fields = draw(st.permutations(REASONING_FIELDS))
    if kind == "null":
        message[fields[0]] = None
        return
    value = draw(texts(special))
    for name in fields[: 2 if kind == "two" else 1]:
        message[name] = value


def _final(draw: Any, special: bool) -> dict[str, Any]:
    """The assistant's answer: content (text, parts, empty or none) and optional reasoning."""
    message: dict[str, Any] = {"role": "assistant"}
    _add_reasoning(draw, message, special)
    kind = draw(st.sampled_from(["text"] * 6 + ["parts", "null", "absent", "empty-calls"]))
    if kind == "text":
        message["content"] = draw(texts(special))
    elif kind == "parts":
        message["content"] = _parts(draw, texts(special), ("text", "output_text", "refusal"))
    elif kind == "null":
        message["content"] = None
    elif kind == "empty-calls":
        message["content"] = draw(texts(special))
        message["tool_calls"] = draw(st.sampled_from([[], None]))
    return message


def _instructions(draw: Any, special: bool) -> list[dict[str, Any]]:
    """Leading system and developer messages (none, mostly one), some empty ("" or null), some in parts."""
    out = []
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 1, 2, 3]))):
        role = draw(st.sampled_from(["system", "system", "developer"]))
        kind = draw(st.sampled_from(["text"] * 5 + ["empty", "null", "parts"]))
        content = {"text": lambda: draw(texts(special)), "empty": lambda: "", "null": lambda: None,
                   "parts": lambda: _parts(draw, texts(special), ("text", "input_text", "str"))}[kind]()
        out.append({"role": role, "content": content})
    return out


def _response_format(draw: Any, special: bool) -> Any:
    """A ``response_format``: text, a JSON schema (nested or flat), or a list of them."""

    def one() -> dict[str, Any]:
        if draw(st.integers(0, 4)) == 0:
            return {"type": "text"}
        schema = draw(_randomly(generators.schema, special))
        if not isinstance(schema, dict):
            schema = {"type": "object", "properties": {"value": schema}}
        spec: dict[str, Any] = {"name": draw(st.sampled_from(["answer", "weather_report"]) | texts(special, 1)),
                                "schema": schema}
        if draw(st.booleans()):
            spec["description"] = draw(texts(special))
        return {"type": "json_schema", **spec} if draw(st.integers(0, 3)) == 0 else {"type": "json_schema",
                                                                                      "json_schema": spec}

    return [one() for _ in range(draw(st.integers(0, 2)))] if draw(st.integers(0, 4)) == 0 else one()


def _keywords(draw: Any, special: bool, today: bool) -> dict[str, Any]:
    """The template keywords: each left out, given, or (where the bridge allows it) given as null."""
    out: dict[str, Any] = {}

    def maybe(name: str, value: st.SearchStrategy[Any], null: bool = True) -> None:
        kind = draw(st.sampled_from(["absent", "absent", "given", "given"] + (["null"] if null else [])))
        if kind == "given":
            out[name] = draw(value)
        elif kind == "null":
            out[name] = None

    maybe("reasoning_effort", st.sampled_from(["low", "medium", "high", "High", "LOW"]))
    maybe("model_identity", st.sampled_from(["You are ChatGPT, a large language model trained by OpenAI.", ""])
          | texts(special))
    maybe("knowledge_cutoff", st.sampled_from(["2024-06", ""]) | texts(special))
    date = draw(st.sampled_from(["fixed"] * 8 + ["other"] + (["today"] if today else ["fixed"])))
    if date == "fixed":
        out["conversation_start_date"] = DATE
    elif date == "other":
        out["conversation_start_date"] = draw(st.sampled_from(["2026-01-01", ""]) | texts(special))
    elif draw(st.booleans()):
        out["conversation_start_date"] = None  # today, as when it is left out
    builtins = draw(st.sampled_from(["absent"] * 5 + ["empty", "python", "browser", "both", "both-reversed",
                                                      "python-string"]))
    if builtins != "absent":
        out["builtin_tools"] = {"empty": [], "python": ["python"], "browser": ["browser"],
                                "both": ["browser", "python"], "both-reversed": ["python", "browser"],
                                "python-string": "python"}[builtins]
    if draw(st.integers(0, 4)) == 0:
        out["response_format"] = _response_format(draw, special)
    maybe("auto_drop_analysis", st.booleans())
    return out


# -- chats -------------------------------------------------------------------------


@st.composite
def chats(draw: Any, special: bool = False, today: bool = True) -> Chat:
    """A chat the bridge accepts: optional instructions, one to three turns, any keywords.

    ``special``: texts may spell special tokens. ``today``: the date may be left to the
    renderer (today's); otherwise it is the fixed :data:`DATE` in most chats and other text in a few.
    """
    kwargs = _keywords(draw, special, today)
    builtin = kwargs.get("builtin_tools", ())
    builtins = (builtin,) if isinstance(builtin, str) else tuple(builtin)
    declared = draw(st.sampled_from(["none", "none", "empty", "some", "some", "some"]))
    tools: Optional[list[dict[str, Any]]] = None if declared == "none" else [] if declared == "empty" else \
        draw(st.lists(_tool(special), min_size=1, max_size=3, unique_by=tool_name))
    names = [tool_name(t) for t in tools or []]
    messages = _instructions(draw, special)
    turns = draw(st.sampled_from((1, 1, 1, 2, 2, 3) + ((0,) if messages else ())))  # no turn: instructions only
    waiting, counter = _Waiting(), [0]
    for turn in range(turns):
        last = turn == turns - 1
        messages.append({"role": "user", "content": _content(draw, texts(special))})
        ending = draw(st.sampled_from(["final"] * 4 + ["user", "calls", "results"])) if last else \
            draw(st.sampled_from(["final"] * 9 + ["user"]))
        if ending == "user":
            continue
        rounds = draw(st.integers(1 if ending in ("calls", "results") else 0, 2))
        for r in range(rounds):
            results = not (ending == "calls" and r == rounds - 1)
            messages.extend(_tool_round(draw, special, names, builtins, waiting, counter, results))
        if ending == "final":
            messages.append(_final(draw, special))
    return Chat(messages=messages, tools=tools, add_generation_prompt=draw(st.booleans()), kwargs=kwargs)


def any_chats(today: bool = True) -> st.SearchStrategy[Chat]:
    """Chats with and without special-token spellings, about half each."""
    return st.booleans().flatmap(lambda special: chats(special=special, today=today))


def features(chat: Chat) -> set[str]:
    """The features a chat exercises, by name (tests/test_chat_strategies.py checks they all occur)."""
    out: set[str] = set()
    kw = chat.kwargs
    for name, value in kw.items():
        out.add(f"kw:{name}" + (":null" if value is None else ""))
    date = kw.get("conversation_start_date", "today")
    out.add("date:" + ("fixed" if date == DATE else "today" if date in (None, "today") else "other"))
    builtin = kw.get("builtin_tools")
    if isinstance(builtin, str):
        out.add("builtin:string")
    if isinstance(kw.get("response_format"), list):
        out.add("response_format:list")
    if chat.tools:
        out.add("tools")
        out.update("tool:" + ("flat" if "function" not in t else "untyped" if "type" not in t else "nested")
                   for t in chat.tools)
    elif chat.tools == []:
        out.add("tools:empty")
    out.add("generation-prompt" if chat.add_generation_prompt else "no-generation-prompt")
    last = chat.messages[-1] if chat.messages else {}
    out.add(f"last:{last.get('role')}")
    if last.get("role") == "assistant" and not chat.add_generation_prompt:
        out.add("training")
    leading = True
    for message in chat.messages:
        role = message["role"]
        if role in ("system", "developer") and leading:
            out.add(f"leading:{role}")
            if not message.get("content"):
                out.add("leading:empty")
        leading = leading and role in ("system", "developer")
        for name in REASONING_FIELDS:
            if message.get(name) is not None:
                out.add(f"reasoning:{name}")
        content = message.get("content")
        if isinstance(content, list) and role != "tool":
            out.add(f"parts:{role}")
        calls = message.get("tool_calls") or []
        if calls:
            out.add("calls")
            if len(calls) > 1:
                out.add("calls:parallel")
            if content:
                out.add("preamble")
            for call in calls:
                out.add("call:with-id" if call.get("id") else "call:without-id")
                name = call.get("function", call)["name"]
                if name == "python" or name.startswith("browser."):
                    out.add(f"call:{name.split('.')[0]}")
                arguments = call.get("function", call).get("arguments", _ABSENT)
                out.add("arguments:" + ("object" if isinstance(arguments, dict) else "absent"
                                        if arguments is _ABSENT or arguments is None else "text"))
        if role in ("tool", "function"):
            out.add("result:legacy" if role == "function" else "result:id" if message.get("tool_call_id")
                    else "result:named" if message.get("name") else "result:bare")
            out.add("result-content:" + type(content).__name__)
    strings = list(_strings([chat.messages, chat.tools, kw]))
    if any(_special_in(s) for s in strings):
        out.add("special-text")
    if any(j in s for s in strings for j in ("{{", "{%")):
        out.add("jinja-lookalike")
    if any(ord(c) > 0xFFFF for s in strings for c in s):
        out.add("astral")
    return out


def first_difference(got: str, want: str, context: int = 60) -> str:
    """Where two renders part, for an assertion message: the index and a little text of each around it."""
    if got == want:
        return "identical"
    at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    start = max(0, at - context)
    return (f"differs at character {at} of {len(want)} (got {len(got)}):\n"
            f"  want ...{want[start:at + context]!r}\n  got  ...{got[start:at + context]!r}")
