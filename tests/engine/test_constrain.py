"""The completion constraint: ``enc.completion_grammar(conversation, tool_choice=...)``.

Completions are rendered by our own renderer and must be accepted through their
stop token; mutations must be refused at exactly the first wrong token; random
sampling under the mask must always give completions that parse strictly, whose
arguments validate against the declared schemas, and that the validator passes.

Known limits of llguidance 1.9.1 the generated arguments stay clear of (they are
not harmony_grammar's): its JSON strings take ``\\uXXXX`` escapes only for
control characters (``json.dumps`` is called with ``ensure_ascii=False``),
refuse a raw DEL and ``\\/``; numbers with bounds take no exponent and no ``-0.0``.
hypothesis-jsonschema 0.23.1 cannot generate ``"type": "object"`` values with
Hypothesis 6.170, so objects are put together here (``values``) from its leaves.

The tests at the end pin library bugs found while writing these tests.
"""

from __future__ import annotations

import json
import math
from typing import Any, Optional, Sequence

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from harmony_grammar import (
    Conversation,
    DeveloperContent,
    HarmonyError,
    Message,
    RenderConversationConfig,
    Role,
    SystemContent,
    ToolDescription,
    ToolNamespaceConfig,
    load_harmony_encoding,
    validate,
)
from harmony_grammar.engine.constrain import CompletionGrammar, lltokenizer

ENC = load_harmony_encoding("HarmonyGptOss")
A = Role.ASSISTANT
TOK = ENC.tokenizer
START, MESSAGE, CHANNEL, CONSTRAIN, END, CALL, RETURN = (
    TOK.special_id(s) for s in ("<|start|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|end|>",
                                "<|call|>", "<|return|>"))
SPELLINGS = ["<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|return|>", "<|call|>"]
ASSISTANT_TOKENS = TOK.encode_ordinary("assistant")
BROWSER = ToolNamespaceConfig.browser()
BROWSER_SCHEMAS = {f"browser.{t.name}": t.parameters for t in BROWSER.tools}
NO_DROP = RenderConversationConfig(auto_drop_analysis=False)


def E(text: str) -> list[int]:
    """Text with literal special tokens, encoded as the model would write it."""
    return ENC.encode(text, allowed_special="all")


def ordinary(text: str) -> list[int]:
    return TOK.encode_ordinary(text)


# -- conversations ----------------------------------------------------------------------


def prompt_messages(functions: Sequence[tuple[str, Any]] = (), *, browser: bool = False, python: bool = False,
                    formats: Sequence[tuple[str, Any]] = (), system: Optional[SystemContent] = None) -> list[Message]:
    """System (with built-ins), developer (functions, response formats) and one user message."""
    sys_content = system or SystemContent.new()
    if browser:
        sys_content = sys_content.with_browser_tool()
    if python:
        sys_content = sys_content.with_python_tool()
    out = [Message.from_role_and_content(Role.SYSTEM, sys_content)]
    if functions or formats:
        dev = DeveloperContent.new().with_instructions("Answer briefly.")
        if functions:
            dev = dev.with_function_tools([ToolDescription.new(n, f"The {n} tool.", s) for n, s in functions])
        for name, schema in formats:
            dev = dev.with_response_format(name, schema)
        out.append(Message.from_role_and_content(Role.DEVELOPER, dev))
    out.append(Message.from_role_and_content(Role.USER, "Please help."))
    return out


def preamble(channel: str, text: str) -> Message:
    return Message.from_role_and_content(A, text).with_channel(channel)


def call(recipient: str, args: str, *, channel: str = "commentary",
         content_type: Optional[str] = "<|constrain|>json") -> Message:
    m = Message.from_role_and_content(A, args).with_channel(channel).with_recipient(recipient)
    return m.with_content_type(content_type) if content_type is not None else m


def final(text: str, content_type: Optional[str] = None) -> Message:
    m = Message.from_role_and_content(A, text).with_channel("final")
    return m.with_content_type(content_type) if content_type is not None else m


def render_completion(prompt: list[Message], completion: list[Message]) -> tuple[list[int], list[int]]:
    """(prompt tokens through ``<|start|>assistant``, the completion's tokens), both from our renderer."""
    head = ENC.render_conversation_for_completion(Conversation.from_messages(prompt), A)
    full = ENC.render_conversation_for_training(Conversation.from_messages(prompt + completion), NO_DROP)
    assert full[:len(head)] == head
    return head, full[len(head):]


def as_parsed(m: Message) -> Message:
    """A message as the strict parser reads it back: like the reference, it reads a content type with
    no recipient (``<|channel|>final <|constrain|>json``) as the recipient."""
    if m.recipient is None and m.content_type is not None:
        return Message.from_role_and_content(A, m.content[0].text).with_channel(m.channel) \
            .with_recipient(m.content_type)
    return m


def last_message_start(tokens: Sequence[int]) -> int:
    """Index of the last message's header: after the last ``<|start|>assistant`` (0 without one)."""
    starts = [i for i, t in enumerate(tokens) if t == START]
    if not starts:
        return 0
    k = starts[-1] + 1
    assert list(tokens[k:k + len(ASSISTANT_TOKENS)]) == ASSISTANT_TOKENS
    return k + len(ASSISTANT_TOKENS)


# -- the exact index of a refusal -------------------------------------------------------

_MARK = {t: b"\xff" + s.encode() + b"\xff" for s, t in TOK.special_tokens.items()}


def _units(tokens: Sequence[int]) -> bytes:
    """Token bytes with special tokens as unforgeable markers (0xff is never UTF-8), so that
    a special token's spelling in ordinary tokens never passes for the token itself."""
    return b"".join(_MARK.get(t) or TOK.decode_bytes([t]) for t in tokens)


def _spelled(text: str) -> bytes:
    return _units(E(text))


def header_forms(mode: str, calls: Sequence[tuple[str, str]], *, formats: bool = False) -> list[bytes]:
    """Every header (through ``<|message|>``) a message may open with under ``mode``.

    ``calls`` are the (recipient, kind) the tool choice allows; kind is "function" or "builtin".
    """
    out = [f"<|channel|>{c}<|message|>" for c in ("analysis", "commentary")]
    if mode in ("auto", "none"):
        out.append("<|channel|>final<|message|>")
        if formats:
            out += ["<|channel|>final <|constrain|>json<|message|>", "<|channel|>final json<|message|>"]
    if mode != "none":
        for recipient, kind in calls:
            if kind == "function":
                channels, types = ["commentary"], [" <|constrain|>json", " json"]
            else:
                channels, types = ["analysis", "commentary"], ["", " code"]
            for ch in channels:
                for ct in types:
                    out += [f"<|channel|>{ch} to={recipient}{ct}<|message|>", f" to={recipient}<|channel|>{ch}{ct}<|message|>"]
    return [_spelled(h) for h in out]


def refusal_index(tokens: Sequence[int], start: int, headers: Sequence[bytes]) -> int:
    """The first index from ``start`` whose token makes the bytes since ``start`` a prefix of no header."""
    for i in range(start, len(tokens)):
        seen = _units(tokens[start:i + 1])
        if not any(h.startswith(seen) for h in headers):
            return i
    raise AssertionError("the tokens never leave the headers")


def spelling_index(head: Sequence[int], text_tokens: Sequence[int]) -> int:
    """Index (in head + text_tokens) of the token completing the first special-token spelling."""
    for j in range(len(text_tokens)):
        if any(s in ENC.decode(list(text_tokens[:j + 1])) for s in SPELLINGS):
            return len(head) + j
    raise AssertionError("the text spells no special token")


# -- JSON the grammar takes -------------------------------------------------------------


def fit(value: Any, schema: Any) -> Any:
    """A generated value in the schema's property order, clear of llguidance's limits (see the module doc)."""
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(value, str):
        return value.replace("\x7f", "~")
    if isinstance(value, float) and schema.get("type") == "number" and ("minimum" in schema or "maximum" in schema):
        if "e" in repr(value) or (value == 0 and math.copysign(1.0, value) < 0):
            return schema.get("minimum", schema.get("maximum"))
        return value
    if isinstance(value, list):
        return [fit(v, schema.get("items")) for v in value]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out = {k: fit(value[k], props[k]) for k in props if k in value}
        out.update({fit(k, None): fit(v, None) for k, v in value.items() if k not in props})
        return out
    return value


def dumps(value: Any, style: str) -> str:
    if style == "compact":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if style == "indent":
        return json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


# -- strategies -------------------------------------------------------------------------

PROPERTY_NAMES = ["city", "unit", "days", "flag", "tags", "where", "ratio", "opts", "limit"]
FUNCTION_NAMES = ["get_weather", "lookup", "calc", "calc_sum", "search_docs", "f", "tool_1"]  # none starts with q
FRAGMENTS = ["hello", " ", "\n", "\t", "<|", "|>", "<|end", "end|>", "<||>", "<|channel", "call|>", "to=functions.f",
             "analysis", "json", "{", "}", '"', "\\", "é", "🙂", "日本", "\r\n", "assistant"]
TEXT = (st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=6).map("".join)
        .filter(lambda t: not any(s in t for s in SPELLINGS)))


@st.composite
def leaf_schema(draw: Any, depth: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["string", "enum", "integer", "number", "boolean", "array", "object"]
                                if depth < 2 else ["string", "enum", "integer", "number", "boolean"]))
    if kind == "string":
        out: dict[str, Any] = {"type": "string"}
        if draw(st.booleans()):
            lo = draw(st.integers(0, 2))
            out.update(minLength=lo, maxLength=lo + draw(st.integers(0, 6)))
        return out
    if kind == "enum":
        return {"type": "string", "enum": draw(st.lists(st.sampled_from(["c", "f", "k", "celsius", "a b", "日本"]),
                                                        min_size=1, max_size=3, unique=True))}
    if kind == "integer":
        out = {"type": "integer"}
        lo = draw(st.integers(-5, 5))
        bounds = draw(st.sampled_from(["none", "min", "max", "both"]))
        if bounds in ("min", "both"):
            out["minimum"] = lo
        if bounds in ("max", "both"):
            out["maximum"] = lo + draw(st.integers(0, 20))
        return out
    if kind == "number":
        out = {"type": "number"}
        if draw(st.booleans()):
            lo = draw(st.sampled_from([-2.5, -1, 0, 0.5]))
            out.update(minimum=lo, maximum=lo + draw(st.sampled_from([0.5, 1, 10, 100])))
        return out
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "array":
        out = {"type": "array", "items": draw(leaf_schema(depth + 1))}
        if draw(st.booleans()):
            lo = draw(st.integers(0, 2))
            out.update(minItems=lo, maxItems=lo + draw(st.integers(0, 2)))
        return out
    return draw(object_schema(depth + 1))


@st.composite
def object_schema(draw: Any, depth: int = 0) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(PROPERTY_NAMES), max_size=4 if depth == 0 else 2, unique=True))
    out: dict[str, Any] = {"type": "object", "properties": {n: draw(leaf_schema(depth)) for n in names}}
    required = [n for n in names if draw(st.booleans())]
    if required:
        out["required"] = required
    if draw(st.booleans()):
        out["additionalProperties"] = False
    return out


def values(schema: Any) -> Any:
    """Values valid against ``schema``: ``from_schema``, except that objects are put together here
    (hypothesis-jsonschema 0.23.1's object strategy calls a Hypothesis internal that 6.170 removed)."""
    if schema.get("type") == "object":
        return object_values(schema)
    if schema.get("type") == "array" and schema["items"].get("type") == "object":
        return st.lists(values(schema["items"]), min_size=schema.get("minItems", 0), max_size=schema.get("maxItems", 3))
    return from_schema(schema)


@st.composite
def object_values(draw: Any, schema: Any) -> dict[str, Any]:
    props, required = schema.get("properties", {}), set(schema.get("required", ()))
    out = {name: draw(values(sub)) for name, sub in props.items() if name in required or draw(st.booleans())}
    if schema.get("additionalProperties", True) is not False:
        out.update(draw(st.dictionaries(st.text(max_size=5).filter(lambda k: k not in props), from_schema({}),
                                        max_size=2)))
    return out


@st.composite
def json_text(draw: Any, schema: Any) -> str:
    value = fit(draw(values(schema)), schema)
    jsonschema.validate(value, schema)
    return dumps(value, draw(st.sampled_from(["compact", "spaces", "indent"])))


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    """A prompt with random declarations and a completion valid for it: preambles, then an answer or a call.

    The last message is rendered (``render``: the message to render) or, for the header forms the
    renderer never writes (the recipient first, `` json``, `` code``), written out (``header``).
    ``expected`` is the completion as the strict parser reads it back.
    """
    names = draw(st.lists(st.sampled_from(FUNCTION_NAMES), max_size=3, unique=True))
    functions = [(n, draw(object_schema())) for n in names]
    browser, python = draw(st.booleans()), draw(st.booleans())
    formats = [("answer", draw(object_schema()))] if draw(st.integers(0, 3)) == 0 else []
    preambles = [preamble(ch, t) for ch, t in draw(st.lists(st.tuples(st.sampled_from(["analysis", "commentary"]),
                                                                      TEXT), max_size=3))]
    targets = ["final"] + [f"functions.{n}" for n in names] + (list(BROWSER_SCHEMAS) if browser else []) \
        + (["python"] if python else [])
    target = draw(st.sampled_from(targets))
    render: Optional[Message] = None
    header: Optional[str] = None
    if target == "final":
        body = draw(json_text(formats[0][1])) if formats else draw(TEXT)
        render = final(body)  # the answer carries no content type: a lone one would read as the recipient
        expected = as_parsed(render)
    else:
        if target.startswith("functions."):
            body = draw(json_text(dict(functions)[target.split(".", 1)[1]]))
            channel, ct = "commentary", draw(st.sampled_from([" <|constrain|>json", " json"]))
        else:
            body = draw(json_text(BROWSER_SCHEMAS[target])) if target != "python" else draw(TEXT)
            channel, ct = draw(st.sampled_from(["analysis", "commentary"])), draw(st.sampled_from(["", " code"]))
        expected = call(target, body, channel=channel, content_type=ct.strip() or None)
        form = draw(st.sampled_from(["render", "channel-first", "recipient-first"]))
        if form == "render" and ct in ("", " <|constrain|>json"):
            render = expected  # the renderer writes a content type as " <|constrain|>TYPE"
        elif form == "recipient-first":
            header = f" to={target}<|channel|>{channel}{ct}<|message|>"
        else:
            header = f"<|channel|>{channel} to={target}{ct}<|message|>"
    calls = [(f"functions.{n}", "function") for n in names] + [(r, "builtin") for r in BROWSER_SCHEMAS if browser] \
        + ([("python", "builtin")] if python else [])
    return {"prompt": prompt_messages(functions, browser=browser, python=python, formats=formats),
            "preambles": preambles, "render": render, "header": header, "body": body,
            "expected": preambles + [expected], "call": target if target != "final" else None,
            "calls": calls, "formats": formats, "named_form": draw(st.integers(0, 2))}


def case_tokens(case: dict[str, Any]) -> tuple[list[int], list[int], int]:
    """(prompt tokens, completion tokens, where the last message's header starts)."""
    prompt, preambles = case["prompt"], case["preambles"]
    head = ENC.render_conversation_for_completion(Conversation.from_messages(prompt), A)
    before: list[int] = []
    if preambles:
        rendered_head, rendered = render_completion(prompt, preambles)
        assert rendered_head == head
        before = rendered + [START] + ASSISTANT_TOKENS
    if case["render"] is not None:
        tokens = render_completion(prompt, preambles + [case["render"]])[1]
        assert tokens[:len(before)] == before
    else:
        tokens = before + E(case["header"]) + ordinary(case["body"]) + [CALL if case["call"] else RETURN]
    assert last_message_start(tokens) == len(before)
    return head, tokens, len(before)


def named_choice(recipient: str, form: int) -> Any:
    name = recipient.split(".", 1)[1] if recipient.startswith("functions.") else recipient
    return [{"type": "function", "function": {"name": name}}, {"name": name}, {"name": recipient}][form]


def assert_no_validation_errors(head: Sequence[int], tokens: Sequence[int]) -> None:
    errors = [d.format() for d in validate(list(head) + list(tokens)) if d.severity == "error"]
    assert errors == []


# -- 1. rendered completions are accepted ----------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_rendered_completions_are_accepted(case):
    prompt, calls, recipient = case["prompt"], case["calls"], case["call"]
    head, tokens, k = case_tokens(case)
    assert tokens[-1] == (CALL if recipient else RETURN)

    # The parse gives the messages back, and the validator finds nothing wrong.
    assert ENC.parse_messages_from_completion_tokens(tokens, A) == case["expected"]
    assert_no_validation_errors(head, tokens)

    auto = ENC.completion_grammar(prompt)
    assert auto.check(tokens) is None
    assert auto.check(tokens[:-1]) == len(tokens) - 1  # ends before its stop token
    assert auto.check(tokens + [tokens[-1]]) == len(tokens)  # nothing after the stop token
    formats = bool(case["formats"])
    none = ENC.completion_grammar(prompt, tool_choice="none")
    if recipient:
        assert ENC.completion_grammar(prompt, tool_choice="required").check(tokens) is None
        assert ENC.completion_grammar(prompt, tool_choice=named_choice(recipient, case["named_form"])) \
            .check(tokens) is None
        assert none.check(tokens) == refusal_index(tokens, k, header_forms("none", [], formats=formats))
        others = [c for c in calls if c[0] != recipient]
        if others:
            other = ENC.completion_grammar(prompt, tool_choice=named_choice(others[0][0], case["named_form"]))
            assert other.check(tokens) == refusal_index(tokens, k, header_forms("named", others[:1]))
    else:
        assert none.check(tokens) is None
        if calls:
            required = ENC.completion_grammar(prompt, tool_choice="required")
            assert required.check(tokens) == refusal_index(tokens, k, header_forms("required", calls))
            named = ENC.completion_grammar(prompt, tool_choice=named_choice(calls[0][0], case["named_form"]))
            assert named.check(tokens) == refusal_index(tokens, k, header_forms("named", calls[:1]))
    # An undeclared function in the last message's place.
    undeclared = tokens[:k] + E("<|channel|>commentary to=functions.q_undeclared json<|message|>{}<|call|>")
    assert auto.check(undeclared) == refusal_index(undeclared, k, header_forms("auto", calls, formats=formats))


# -- 2. mutations are refused at the first wrong token ---------------------------------

WEATHER = {"type": "object", "properties": {
    "city": {"type": "string", "maxLength": 10},
    "unit": {"type": "string", "enum": ["c", "f"]},
    "days": {"type": "integer", "minimum": 1, "maximum": 7},
    "ratio": {"type": "number", "minimum": 0, "maximum": 1}},
    "required": ["city", "days"], "additionalProperties": False}
LOOKUP = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
FUNCTIONS = [("get_weather", WEATHER), ("lookup", LOOKUP)]
ANSWER = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
W = "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
LOOKUP_CALL = "commentary to=functions.lookup json<|message|>{\"q\":\"x\"}<|call|>"
FINAL = "<|channel|>final<|message|>y<|return|>"

# (id, tool_choice, response format?, prefix, bad suffix, good suffix)
MUTATIONS = [
    ("undeclared-function", "auto", False, "<|channel|>commentary to=functions.",
     "qux <|constrain|>json<|message|>{}<|call|>", "lookup <|constrain|>json<|message|>{\"q\":\"x\"}<|call|>"),
    ("function-name-too-long", "auto", False, "<|channel|>commentary to=functions.get_weather",
     "x <|constrain|>json<|message|>{}<|call|>", ' <|constrain|>json<|message|>{"city":"P","days":1}<|call|>'),
    ("wrong-type", "auto", False, W + '{"city":', '5,"days":1}<|call|>', '"P","days":1}<|call|>'),
    ("enum", "auto", False, W + '{"city":"P","unit":"', 'k","days":1}<|call|>', 'f","days":1}<|call|>'),
    ("missing-required", "auto", False, W + '{"city":"P"', "}<|call|>", ',"days":2}<|call|>'),
    ("additional-property", "auto", False, W + '{"city":"P","', 'zone":1,"days":1}<|call|>', 'days":1}<|call|>'),
    ("additional-property-at-end", "auto", False, W + '{"city":"P","days":1,"ratio":0.5', ',"x":1}<|call|>',
     "}<|call|>"),
    ("maximum", "auto", False, W + '{"city":"P","days":', "8}<|call|>", "7}<|call|>"),
    ("minimum", "auto", False, W + '{"city":"P","days":', "0}<|call|>", "1}<|call|>"),
    ("negative", "auto", False, W + '{"city":"P","days":', "-1}<|call|>", "3}<|call|>"),
    ("number-maximum", "auto", False, W + '{"city":"P","days":1,"ratio":', "2}<|call|>", "1}<|call|>"),
    ("not-an-object", "auto", False, W, '["P",1]<|call|>', '{"city":"P","days":1}<|call|>'),
    ("wrong-channel", "auto", False, "<|channel|>", "bogus<|message|>x<|end|>",
     "analysis<|message|>x<|end|><|start|>assistant" + FINAL),
    ("end-after-final", "auto", False, "<|channel|>final<|message|>done", "<|end|>", "<|return|>"),
    ("call-after-final", "auto", False, "<|channel|>final<|message|>done", "<|call|>", "<|return|>"),
    ("return-after-call", "auto", False, W + '{"city":"P","days":1}', "<|return|>", "<|call|>"),
    ("end-after-call", "auto", False, W + '{"city":"P","days":1}', "<|end|>", "<|call|>"),
    ("return-after-preamble", "auto", False, "<|channel|>analysis<|message|>t", "<|return|>",
     "<|end|><|start|>assistant" + FINAL),
    ("final-json-without-format", "auto", False, "<|channel|>final", " json<|message|>{}<|return|>",
     "<|message|>{}<|return|>"),
    ("call-under-none", "none", False, "<|channel|>commentary",
     ' to=functions.get_weather <|constrain|>json<|message|>{"city":"P","days":1}<|call|>',
     "<|message|>x<|end|><|start|>assistant" + FINAL),
    ("recipient-first-call-under-none", "none", False, "", ' to=functions.lookup<|channel|>commentary json'
     '<|message|>{"q":"x"}<|call|>', FINAL),
    ("final-under-required", "required", False, "<|channel|>", "final<|message|>y<|return|>", LOOKUP_CALL),
    ("final-under-required-after-preamble", "required", False,
     "<|channel|>analysis<|message|>t<|end|><|start|>assistant<|channel|>", "final<|message|>y<|return|>",
     LOOKUP_CALL),
    ("named-refuses-another", {"type": "function", "function": {"name": "lookup"}}, False,
     "<|channel|>commentary to=functions.", 'get_weather <|constrain|>json<|message|>{"city":"P","days":1}<|call|>',
     'lookup json<|message|>{"q":"x"}<|call|>'),
    ("named-refuses-final", {"name": "get_weather"}, False, "<|channel|>", "final<|message|>y<|return|>",
     'commentary to=functions.get_weather json<|message|>{"city":"P","days":1}<|call|>'),
    ("prose-for-response-format", "auto", True, "<|channel|>final<|message|>", "Sure, here it is.<|return|>",
     '{"answer":"x"}<|return|>'),
    ("prose-for-response-format-under-none", "none", True, "<|channel|>final<|message|>",
     "Sure<|return|>", '{"answer": "x"}<|return|>'),
    ("response-format-wrong-type", "auto", True, "<|channel|>final<|message|>{\"answer\":", "5}<|return|>",
     '"x"}<|return|>'),
    ("response-format-missing-required", "auto", True, "<|channel|>final<|message|>{", "}<|return|>",
     '"answer":"x"}<|return|>'),
]


@pytest.mark.parametrize("tool_choice, formats, prefix, bad, good", [m[1:] for m in MUTATIONS],
                         ids=[m[0] for m in MUTATIONS])
def test_mutation_is_refused_at_its_first_token(tool_choice, formats, prefix, bad, good):
    prompt = prompt_messages(FUNCTIONS, formats=[("answer", ANSWER)] if formats else ())
    grammar = ENC.completion_grammar(prompt, tool_choice=tool_choice)
    head = E(prefix)
    good_tokens = head + E(good)
    assert grammar.check(good_tokens) is None
    assert ENC.parse_messages_from_completion_tokens(good_tokens, A)[-1].channel in ("final", "commentary")
    assert_no_validation_errors(ENC.render_conversation_for_completion(prompt, A), good_tokens)
    assert grammar.check(head + E(bad)) == len(head)


def test_max_length_is_refused_at_the_eleventh_character():
    grammar = ENC.completion_grammar(prompt_messages(FUNCTIONS))
    head = E(W + '{"city":"')
    chars = [ordinary(c) for c in "abcdefghijk"]
    assert all(len(c) == 1 for c in chars)
    tail = E('","days":1}<|call|>')
    assert grammar.check(head + [c[0] for c in chars[:10]] + tail) is None
    assert grammar.check(head + [c[0] for c in chars] + tail) == len(head) + 10


SPELLED_TEXTS = ["a <|end|> b", "<|start|>", "x<|channel|>y", "say <|return|>", "<|call|>", "<<|message|>>",
                 "json<|constrain|>json", "multi\nline <|end|>"]
TEXT_PLACES = {
    "preamble": ("<|channel|>analysis<|message|>", "<|end|><|start|>assistant" + FINAL),
    "commentary": ("<|channel|>commentary<|message|>", "<|end|><|start|>assistant" + FINAL),
    "final": ("<|channel|>final<|message|>", "<|return|>"),
    "python": ("<|channel|>analysis to=python code<|message|>", "<|call|>"),
}


@pytest.mark.parametrize("place", list(TEXT_PLACES))
@pytest.mark.parametrize("text", SPELLED_TEXTS)
def test_special_token_spelling_in_text_is_refused_where_it_completes(place, text):
    grammar = ENC.completion_grammar(prompt_messages(FUNCTIONS, python=True))
    before, after = TEXT_PLACES[place]
    head, body = E(before), ordinary(text)
    assert grammar.check(head + body + E(after)) == spelling_index(head, body)
    # Broken by a space, the same text is taken in the same place.
    harmless = text.replace("|>", "| >")
    assert not any(s in harmless for s in SPELLINGS)
    assert grammar.check(head + ordinary(harmless) + E(after)) is None


@pytest.mark.parametrize("text", ["<|end", "end|>", "<||>", "<|", "|>", "<|channel", "< |end|>", "<|END|>", ""])
def test_near_spellings_are_text(text):
    grammar = ENC.completion_grammar(prompt_messages(FUNCTIONS))
    tokens = E("<|channel|>final<|message|>") + ordinary(text) + [RETURN]
    assert grammar.check(tokens) is None
    assert ENC.parse_messages_from_completion_tokens(tokens, A) == [final(text)]


def test_out_of_vocabulary_and_unrelated_special_tokens_are_refused():
    grammar = ENC.completion_grammar(prompt_messages(FUNCTIONS))
    endoftext = TOK.special_id("<|endoftext|>")
    for bad in ([TOK.n_vocab], [300000], [endoftext], [START]):
        assert grammar.check(bad) == 0
    head = E("<|channel|>final<|message|>hi")
    assert grammar.check(head + [endoftext, RETURN]) == len(head)
    assert grammar.check(head + [CHANNEL, RETURN]) == len(head)


def test_recipient_first_and_builtin_header_forms():
    prompt = prompt_messages(FUNCTIONS, browser=True, python=True)
    grammar = ENC.completion_grammar(prompt, tool_choice="required")
    forms = {
        ' to=functions.lookup<|channel|>commentary json<|message|>{"q":"x"}<|call|>':
            call("functions.lookup", '{"q":"x"}', content_type="json"),
        ' to=functions.lookup<|channel|>commentary <|constrain|>json<|message|>{"q":"x"}<|call|>':
            call("functions.lookup", '{"q":"x"}'),
        '<|channel|>analysis to=browser.search code<|message|>{"query":"x"}<|call|>':
            call("browser.search", '{"query":"x"}', channel="analysis", content_type="code"),
        ' to=browser.find<|channel|>commentary<|message|>{"pattern":"p","cursor":1}<|call|>':
            call("browser.find", '{"pattern":"p","cursor":1}', content_type=None),
        "<|channel|>analysis to=python<|message|>print(1)<|call|>":
            call("python", "print(1)", channel="analysis", content_type=None),
    }
    for text, message in forms.items():
        tokens = E(text)
        assert grammar.check(tokens) is None, text
        assert ENC.parse_messages_from_completion_tokens(tokens, A) == [message]
    # Functions take a JSON content type and no code; built-ins take code and no JSON; browser args are JSON.
    head = E("<|channel|>commentary to=functions.lookup")
    assert ordinary(" code") == [3490]  # one token, which no JSON content type starts with
    assert grammar.check(head + E(' code<|message|>{"q":"x"}<|call|>')) == len(head)
    assert grammar.check(head + E('<|message|>{"q":"x"}<|call|>')) == len(head)
    head = E("<|channel|>analysis to=browser.search")
    # " " and <|constrain|> fit (a code call may be constrained), "json" does not
    assert grammar.check(head + E(' <|constrain|>json<|message|>{"query":"x"}<|call|>')) == len(head) + 2
    head = E("<|channel|>analysis to=browser.search<|message|>")
    assert grammar.check(head + E("query: x<|call|>")) == len(head)
    # A function call on the analysis channel is refused at "functions" (built-ins may be called there).
    tokens = E('<|channel|>analysis to=functions.lookup json<|message|>{"q":"x"}<|call|>')
    calls = [("functions.get_weather", "function"), ("functions.lookup", "function"), ("python", "builtin")] \
        + [(r, "builtin") for r in BROWSER_SCHEMAS]
    assert grammar.check(tokens) == refusal_index(tokens, 0, header_forms("required", calls)) == 4
    assert ENC.decode(tokens[4:5]) == "functions"


# -- 3. random constrained sampling -----------------------------------------------------

_PREFERRED_TEXTS = ['"', "}", "]", ",", '"}', '",', '"]', "0", "1", "true", "{}", "[]", " "]
PREFERRED = np.array(sorted({t for s in _PREFERRED_TEXTS for t in ordinary(s) if len(ordinary(s)) == 1}
                            | {START, MESSAGE, CHANNEL, CONSTRAIN, END, CALL, RETURN}))
STOPS = np.array([END, CALL, RETURN])


def allowed_ids(matcher: Any) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8), bitorder="little")
    return np.flatnonzero(bits)


def sample(grammar: CompletionGrammar, seed: int, budget: int = 300) -> Optional[list[int]]:
    """Uniform among allowed tokens, nudged to close strings and messages as the budget runs down."""
    rs = np.random.RandomState(seed)
    matcher = grammar.matcher()
    out: list[int] = []
    while not matcher.is_stopped():
        if len(out) >= budget:
            return None
        allowed = allowed_ids(matcher)
        assert allowed.size, f"the mask is empty after {out}"
        pressure = len(out) / budget
        stops = allowed[np.isin(allowed, STOPS)]
        preferred = allowed[np.isin(allowed, PREFERRED)]
        if stops.size and rs.rand() < 0.1 + 2 * pressure:
            token = int(rs.choice(stops))
        elif preferred.size and rs.rand() < 0.25 + 2 * pressure:
            token = int(rs.choice(preferred))
        else:
            token = int(rs.choice(allowed))
        assert matcher.consume_token(token)
        out.append(token)
    return out


SAMPLED = [  # (id, prompt, tool_choice, samples, first seed)
    ("functions-auto", dict(functions=FUNCTIONS), "auto", 6, 0),
    ("builtins-required", dict(functions=[("lookup", LOOKUP)], browser=True, python=True), "required", 6, 100),
    ("response-format-none", dict(functions=FUNCTIONS, formats=[("answer", ANSWER)]), "none", 4, 200),
    ("named", dict(functions=FUNCTIONS), {"name": "get_weather"}, 4, 300),
]


@pytest.mark.parametrize("kwargs, tool_choice, n, seed", [s[1:] for s in SAMPLED], ids=[s[0] for s in SAMPLED])
def test_sampled_completions_parse_and_validate(kwargs, tool_choice, n, seed):
    prompt = prompt_messages(**kwargs)
    head = ENC.render_conversation_for_completion(prompt, A)
    grammar = ENC.completion_grammar(prompt, tool_choice=tool_choice)
    schemas = {f"functions.{name}": schema for name, schema in kwargs.get("functions", ())}
    schemas.update(BROWSER_SCHEMAS if kwargs.get("browser") else {})
    formats = kwargs.get("formats", ())
    attempts, endings = 0, set()
    for i in range(n):
        for retry in range(6):
            attempts += 1
            tokens = sample(grammar, seed=seed + i + 10_000 * retry)
            if tokens is not None:
                break
        assert tokens is not None, "six samples in a row ran out of budget"
        assert tokens[-1] in (CALL, RETURN)
        assert grammar.check(tokens) is None
        messages = ENC.parse_messages_from_completion_tokens(tokens, A)
        *preambles, last = messages
        assert all(m.channel in ("analysis", "commentary") and m.recipient is None and m.author.role == A
                   for m in preambles)
        body = last.content[0].text
        if last.channel == "final":
            assert tool_choice in ("auto", "none") and tokens[-1] == RETURN
            if formats:
                jsonschema.validate(json.loads(body), formats[0][1])
                # 'final <|constrain|>json' reads as a recipient (see test_an_accepted_answer_is_never_a_call)
                assert last.recipient in (None, "<|constrain|>json", "json")
            else:
                assert last.recipient is None
            endings.add("final")
        else:
            assert tool_choice != "none" and tokens[-1] == CALL and last.channel in ("analysis", "commentary")
            if isinstance(tool_choice, dict):
                assert last.recipient == "functions." + tool_choice["name"]
            if last.recipient != "python":
                jsonschema.validate(json.loads(body), schemas[last.recipient])
            endings.add(last.recipient)
        assert_no_validation_errors(head, tokens)
    assert n / attempts >= 0.75  # most samples stop within the budget
    if tool_choice == "none":
        assert endings == {"final"}
    elif isinstance(tool_choice, dict):
        assert endings == {"functions." + tool_choice["name"]}
    else:
        assert len(endings) >= 2


# -- 4/5. API behaviour -----------------------------------------------------------------

GOLDEN = r'''%llguidance {}

start: (preamble <|start|> "assistant")* ending
ending: final | call

preamble: <|channel|> PREAMBLE_CHANNEL <|message|> TEXT <|end|>
PREAMBLE_CHANNEL: "analysis" | "commentary"
final: <|channel|> "final" <|message|> final_body <|return|>
final_body: TEXT

call: call_1
call_1: (<|channel|> "commentary" " to=functions.get_weather" | " to=functions.get_weather" <|channel|> "commentary") json_type <|message|> args_1 <|call|>
args_1: %json {"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"x-guidance":{"whitespace_pattern":"[ \\n]{0,16}","coerce_one_of":true}}
json_type: " " <|constrain|> "json" | " " "json"
code_type: " " <|constrain|> "code" | " " "code" | ""
TEXT: /(?s:.*)/ & ~/(?s:.*)(<\|start\|>|<\|end\|>|<\|message\|>|<\|channel\|>|<\|constrain\|>|<\|return\|>|<\|call\|>)(?s:.*)/
CODE: TEXT'''

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_grammar_text_is_golden():
    grammar = ENC.completion_grammar(Conversation.from_messages(prompt_messages([("get_weather", CITY)])))
    assert grammar.text == GOLDEN
    assert grammar.tool_choice == "auto"
    # A list of messages is the same conversation; the declared schema is not modified.
    assert ENC.completion_grammar(prompt_messages([("get_weather", CITY)])).text == GOLDEN
    assert CITY == {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


GOLDEN_NONE_WITH_FORMAT = r'''%llguidance {}

start: (preamble <|start|> "assistant")* ending
ending: final

preamble: <|channel|> PREAMBLE_CHANNEL <|message|> TEXT <|end|>
PREAMBLE_CHANNEL: "analysis" | "commentary"
final: <|channel|> "final" <|message|> final_body <|return|>
final_body: response_1
response_1: %json {"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"],"x-guidance":{"whitespace_pattern":"[ \\n]{0,16}","coerce_one_of":true}}

TEXT: /(?s:.*)/ & ~/(?s:.*)(<\|start\|>|<\|end\|>|<\|message\|>|<\|channel\|>|<\|constrain\|>|<\|return\|>|<\|call\|>)(?s:.*)/
CODE: TEXT'''


def test_grammar_text_under_none_with_a_response_format():
    grammar = ENC.completion_grammar(prompt_messages([("get_weather", CITY)], formats=[("answer", ANSWER)]),
                                     tool_choice="none")
    assert grammar.text == GOLDEN_NONE_WITH_FORMAT
    assert grammar.tool_choice == "none"


def test_a_missing_system_message_means_the_default_one():
    user = [Message.from_role_and_content(Role.USER, "Hi")]
    system = [Message.from_role_and_content(Role.SYSTEM, SystemContent.new())] + user
    assert ENC.completion_grammar(user).text == ENC.completion_grammar(system).text


def test_named_tool_choice_forms_agree():
    prompt = prompt_messages(FUNCTIONS, browser=True, python=True)
    texts = {ENC.completion_grammar(prompt, tool_choice=c).text for c in (
        {"type": "function", "function": {"name": "lookup"}}, {"name": "lookup"}, {"name": "functions.lookup"})}
    assert len(texts) == 1
    (text,) = texts
    assert "to=functions.lookup" in text and "get_weather" not in text and "browser" not in text
    assert ENC.completion_grammar(prompt, tool_choice={"name": "lookup"}).tool_choice == "named"
    browser = ENC.completion_grammar(prompt, tool_choice={"name": "browser.open"})
    assert browser.check(E('<|channel|>analysis to=browser.open<|message|>{"id":3}<|call|>')) is None
    head = E("<|channel|>analysis to=browser.")
    assert browser.check(head + E('search<|message|>{"query":"x"}<|call|>')) == len(head)
    python = ENC.completion_grammar(prompt, tool_choice={"name": "python"})
    assert python.check(E("<|channel|>commentary to=python code<|message|>1+1<|call|>")) is None


NO_FINAL = SystemContent.new().with_required_channels(["analysis", "commentary"])


@pytest.mark.parametrize("prompt, tool_choice, message", [
    (prompt_messages(FUNCTIONS), {"name": "nope"},
     "tool_choice: no declared tool named 'nope' (declared: get_weather, lookup)"),
    (prompt_messages(FUNCTIONS, browser=True, python=True), {"type": "function", "function": {"name": "open"}},
     "tool_choice: no declared tool named 'open' (declared: get_weather, lookup, browser.search, browser.open, "
     "browser.find, python)"),
    (prompt_messages(), {"name": "f"}, "tool_choice: no declared tool named 'f' (declared: none)"),
    (prompt_messages(), "required", "tool_choice: 'required' but the conversation declares no tools"),
    (prompt_messages(FUNCTIONS), {"type": "function", "function": {}},
     "tool_choice: expected {'type': 'function', 'function': {'name': ...}} or {'name': ...}, "
     "found {'type': 'function', 'function': {}}"),
    (prompt_messages(FUNCTIONS), {"name": ""},
     "tool_choice: expected {'type': 'function', 'function': {'name': ...}} or {'name': ...}, found {'name': ''}"),
    (prompt_messages(FUNCTIONS), {"name": 5},
     "tool_choice: expected {'type': 'function', 'function': {'name': ...}} or {'name': ...}, found {'name': 5}"),
    (prompt_messages(FUNCTIONS), "sometimes",
     "tool_choice: expected 'auto', 'none', 'required' or a function, found 'sometimes'"),
    (prompt_messages(FUNCTIONS), None, "tool_choice: expected 'auto', 'none', 'required' or a function, found None"),
    (prompt_messages(FUNCTIONS, system=NO_FINAL), "auto",
     "the system message's valid channels (analysis, commentary) have no 'final' channel for the answer"),
    (prompt_messages(FUNCTIONS, system=NO_FINAL), "none",
     "the system message's valid channels (analysis, commentary) have no 'final' channel for the answer"),
], ids=["unknown", "unknown-builtin-short-name", "no-tools-named", "required-no-tools", "empty-function",
        "empty-name", "name-not-str", "bad-string", "none-value", "auto-no-final", "none-no-final"])
def test_tool_choice_errors(prompt, tool_choice, message):
    with pytest.raises(HarmonyError) as info:
        ENC.completion_grammar(prompt, tool_choice=tool_choice)
    assert str(info.value) == message


def test_required_without_a_final_channel_is_fine():
    grammar = ENC.completion_grammar(prompt_messages(FUNCTIONS, system=NO_FINAL), tool_choice="required")
    assert grammar.check(E('<|channel|>commentary to=functions.lookup json<|message|>{"q":"x"}<|call|>')) is None
    assert grammar.check(E(FINAL)) == 1


def test_lltokenizer_is_cached_and_matchers_are_fresh():
    assert lltokenizer(ENC) is lltokenizer(ENC)
    grammar = ENC.completion_grammar(prompt_messages(FUNCTIONS))
    first, second = grammar.matcher(), grammar.matcher()
    assert first is not second
    assert first.consume_token(CHANNEL)
    assert CHANNEL not in allowed_ids(first)
    assert CHANNEL in allowed_ids(second) and CHANNEL in allowed_ids(grammar.matcher())
    assert grammar.check([CHANNEL]) == 1  # check runs its own matcher, and a prefix ends early
    assert grammar.check([]) == 0


def _allowed_after(strings: Sequence[str]) -> set[int]:
    """Every ordinary token whose bytes start one of ``strings``: what a mask must allow there."""
    wanted = [s.encode() for s in strings]
    return {i for i, b in enumerate(TOK.token_bytes[:TOK.table.n_ranks]) if b and any(w.startswith(b) for w in wanted)}


def test_allowed_after_channel():
    prompt = prompt_messages(FUNCTIONS)
    required = ENC.completion_grammar(prompt, tool_choice="required")
    got = required.allowed([CHANNEL], limit=10 ** 6)
    calls = [f"commentary to=functions.{n} json" for n, _ in FUNCTIONS]
    assert set(got) == _allowed_after(["analysis", "commentary"] + calls)
    assert got == sorted(got)
    assert not [t for t in got if ENC.decode([t]).startswith("f")]
    assert ordinary("final")[0] not in got
    auto = ENC.completion_grammar(prompt).allowed([CHANNEL], limit=10 ** 6)
    assert set(auto) == _allowed_after(["analysis", "commentary", "final"] + calls)
    assert ordinary("final")[0] in auto
    assert required.allowed([CHANNEL], limit=3) == got[:3]
    assert required.allowed([]) == sorted(_allowed_after([" to=functions.get_weather", " to=functions.lookup"])
                                          | {CHANNEL}) == [220, 260, 316, CHANNEL]  # " ", " t", " to"
    with pytest.raises(HarmonyError) as info:
        required.allowed([5])
    assert str(info.value) == "the grammar refuses token 5 of the prefix"


def test_a_schema_llguidance_refuses_is_a_harmony_error():
    grammar = ENC.completion_grammar(prompt_messages([("f", {"type": "object", "properties": {"x": {"$ref": "#/nope"}}})]))
    assert '%json {"type":"object","properties":{"x":{"$ref":"#/nope"}},' in grammar.text
    for attempt in (grammar.matcher, lambda: grammar.check([CHANNEL]), lambda: grammar.allowed([])):
        with pytest.raises(HarmonyError) as info:
            attempt()
        assert str(info.value).startswith("llguidance refused the completion grammar: ")
        assert "failed to compile JSON schema: Pointer '/nope' does not exist" in str(info.value)


def test_parameterless_functions_take_any_object():
    prompt = prompt_messages([("ping", None)])
    grammar = ENC.completion_grammar(prompt)
    head = E("<|channel|>commentary to=functions.ping <|constrain|>json<|message|>")
    assert grammar.check(head + E("{}<|call|>")) is None
    assert grammar.check(head + E('{"any": [1, {"x": null}]}<|call|>')) is None
    assert grammar.check(head + E('"text"<|call|>')) == len(head)


# -- found while writing these tests, and fixed ---------------------------------------


def test_calls_keep_to_the_valid_channels():
    system = SystemContent.new().with_required_channels(["analysis", "final"])
    prompt = prompt_messages(FUNCTIONS, browser=True, system=system)
    grammar = ENC.completion_grammar(prompt)
    tokens = E('<|channel|>commentary to=browser.search<|message|>{"query":"x"}<|call|>')
    assert [d.code for d in validate(ENC.render_conversation_for_completion(prompt, A) + tokens)
            if d.severity == "error"] == ["C001"]
    assert grammar.check(tokens) == 1


def test_no_preamble_channel_means_no_preamble():
    prompt = prompt_messages(system=SystemContent.new().with_required_channels(["final"]))
    grammar = ENC.completion_grammar(prompt)
    tokens = E("<|channel|><|message|>hi<|end|><|start|>assistant" + FINAL)
    with pytest.raises(HarmonyError):
        ENC.parse_messages_from_completion_tokens(tokens, A)
    assert grammar.check(tokens) == 1


@pytest.mark.parametrize("header", ["<|channel|>final <|constrain|>json", "<|channel|>final json"])
def test_an_accepted_answer_is_never_a_call(header):
    from harmony_grammar import chat_message_from_tokens

    grammar = ENC.completion_grammar(prompt_messages(formats=[("answer", ANSWER)]))
    tokens = E(header + '<|message|>{"answer":"x"}<|return|>')
    if grammar.check(tokens) is None:  # either fix passes: refuse the header, or read the answer as an answer
        assert chat_message_from_tokens(ENC, tokens) == {"role": "assistant", "content": '{"answer":"x"}'}


@pytest.mark.parametrize("recipient, channel, body", [("python", "analysis", "1+1"),
                                                      ("browser.search", "commentary", '{"query":"x"}')])
def test_rendered_code_calls_are_accepted(recipient, channel, body):
    grammar = ENC.completion_grammar(prompt_messages(browser=True, python=True))
    message = call(recipient, body, channel=channel, content_type="code")
    tokens = ENC.render(message)[1 + len(ASSISTANT_TOKENS):]
    # oss-harmony always constrains a content type: the header reads back as "<|constrain|>code".
    parsed = ENC.parse_messages_from_completion_tokens(tokens, A)
    assert CONSTRAIN in tokens and [m.content_type for m in parsed] == ["<|constrain|>code"]
    assert grammar.check(tokens) is None


@pytest.mark.parametrize("bad", [-1, 2 ** 32])
def test_ids_out_of_range(bad):
    grammar = ENC.completion_grammar(prompt_messages(FUNCTIONS))
    try:
        result = grammar.check([CHANNEL, bad])
    except HarmonyError as exc:
        assert str(exc).startswith(f"token 1: id {bad} is out of range")
    else:
        assert result == 1


def test_a_one_of_schema_compiles():
    either = {"oneOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                        {"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"]}]}
    grammar = ENC.completion_grammar(prompt_messages([("f", {"type": "object", "properties": {"v": either}})]))
    head = E('<|channel|>commentary to=functions.f json<|message|>{"v":')
    assert grammar.check(head + E('{"b":1}}<|call|>')) is None
    assert grammar.check(head + E('[]}<|call|>')) == len(head)


def test_matcher_compiles_a_text_once_and_hands_out_independent_copies():
    from harmony_grammar.engine import constrain

    grammar = ENC.completion_grammar(prompt_messages(FUNCTIONS))
    first = grammar.matcher()
    key = (id(ENC.tokenizer), grammar.text)
    assert key in constrain._compiled
    compiled = constrain._compiled[key]
    again = ENC.completion_grammar(prompt_messages(FUNCTIONS)).matcher()  # a new request, the same tools
    assert constrain._compiled[key] is compiled and again is not first and again is not compiled
    tokens = E(FINAL)
    assert all(first.consume_token(t) for t in tokens) and first.is_stopped()
    assert not again.is_stopped() and all(again.consume_token(t) for t in tokens)
    assert not compiled.is_stopped()  # the compiled original is only ever copied
    assert grammar.compile() is not compiled


def test_the_compiled_cache_is_bounded(monkeypatch):
    from harmony_grammar.engine import constrain

    monkeypatch.setattr(constrain, "_compiled", {})
    monkeypatch.setattr(constrain, "_COMPILED_LIMIT", 2)
    texts = []
    for choice in ("auto", "none", "required"):
        grammar = ENC.completion_grammar(prompt_messages(FUNCTIONS), tool_choice=choice)
        grammar.matcher()
        texts.append(grammar.text)
    assert [text for _, text in constrain._compiled] == texts[1:]
