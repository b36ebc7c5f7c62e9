"""Differential tests for dialect="openai-harmony" against openai-harmony 0.0.8 in its own environment.

Parse and stream errors must match in where they happen and in wording: our
message starts with the reference's exact text.

openai-harmony downloads its vocabulary unless TIKTOKEN_ENCODINGS_BASE names a
folder holding o200k_base.tiktoken; tests/reference.py writes the bundled copy
to a temporary folder for it.
"""

from __future__ import annotations

import json
import random

import generators
import oracle_worker
from harmony_grammar import load_harmony_encoding
from harmony_grammar.resources import load_json

DIALECT = "openai-harmony"


def _builtin() -> dict:
    return {n: load_json("templates", "tools", f"{n}.json") for n in ("browser", "python")}


def _outcome(result: dict) -> object:
    if "error" in result:
        return "error"
    if "steps" in result:
        return {"steps": ["error" if "error" in s else s for s in result["steps"]], "tokens": result["tokens"]}
    return result


def _messages(result: dict) -> list[str]:
    """The error messages in a result: a call's, or a stream's (at most one, on its last step)."""
    return [s["message"] for s in result.get("steps", [result]) if "error" in s]


def _check(cases: list[dict], ours: list, theirs: list) -> None:
    """Same outcomes (for a stream: after every token, the error raised by the same token); for
    parsing, our error message starts with the reference's exact text."""
    def differ(case: dict, a: dict, b: dict) -> bool:
        if _outcome(a) != _outcome(b):
            return True
        pairs = zip(_messages(a), _messages(b)) if case["op"] in ("parse", "stream") else ()
        return not all(mine.startswith(ref) for mine, ref in pairs)

    bad = [(c, a, b) for c, a, b in zip(cases, ours, theirs) if differ(c, a, b)]
    detail = "\n".join(f"case {json.dumps(c)[:2000]}\n  ours: {json.dumps(a)[:800]}\n  reference: {json.dumps(b)[:800]}"
                       for c, a, b in bad[:3])
    assert not bad, f"{len(bad)} of {len(cases)} differ:\n{detail}"


def test_render_matches_openai_harmony(openai_oracle):
    rng = random.Random(80)
    builtin = _builtin()
    cases = [generators.render_case(rng, builtin) for _ in range(1500)]
    theirs = openai_oracle(cases)
    ours = oracle_worker.run_all("harmony_grammar", cases, dialect=DIALECT)
    _check(cases, ours, theirs)
    assert sum("ok" in r for r in theirs) > 0.8 * len(cases)


def test_parse_and_stream_match_openai_harmony(openai_oracle):
    enc = load_harmony_encoding("HarmonyGptOss", dialect=DIALECT)
    rng = random.Random(81)
    cases = []
    for i in range(700):
        tokens, role = generators.parse_case_tokens(rng, lambda s: enc.encode(s, allowed_special="all"),
                                                    enc.tokenizer.encode_ordinary)
        for strict in (True, False):
            cases.append({"op": "parse", "tokens": tokens, "role": role, "strict": strict})
            if i % 3 == 0:
                cases.append({"op": "stream", "tokens": tokens, "role": role, "strict": strict})
    theirs = openai_oracle(cases)
    ours = oracle_worker.run_all("harmony_grammar", cases, dialect=DIALECT)
    _check(cases, ours, theirs)


def test_the_dialects_differ_where_the_references_do(enc):
    """Recipient placement, content types and float defaults: the documented differences."""
    from harmony_grammar import DeveloperContent, Message, Role, ToolDescription

    upstream = load_harmony_encoding("HarmonyGptOss", dialect=DIALECT)
    call = (Message.from_role_and_content(Role.ASSISTANT, "{}").with_channel("commentary")
            .with_recipient("functions.f").with_content_type("json"))
    assert enc.decode(enc.render(call)) == \
        "<|start|>assistant<|channel|>commentary to=functions.f <|constrain|>json<|message|>{}<|call|>"
    assert upstream.decode(upstream.render(call)) == \
        "<|start|>assistant to=functions.f<|channel|>commentary json<|message|>{}<|call|>"
    dev = Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new().with_function_tools(
        [ToolDescription.new("f", "d", {"type": "object", "properties": {"x": {"type": "number", "default": 1e16}}})]))
    assert "// default: 1e+16" in enc.decode(enc.render(dev))
    assert "// default: 1e16" in upstream.decode(upstream.render(dev))
    header = "<|start|>assistant<|channel|>analysis<|channel|>final<|message|>x<|end|>"
    assert enc.parse_messages_from_completion_tokens(enc.encode(header, allowed_special="all"))[0].channel == "analysis"
    import pytest
    from harmony_grammar import HarmonyError

    with pytest.raises(HarmonyError, match=r"Unknown role: assistant<\|channel\|>final"):
        upstream.parse_messages_from_completion_tokens(upstream.encode(header, allowed_special="all"))
