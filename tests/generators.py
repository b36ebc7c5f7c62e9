"""Seeded generators of conversations, schemas and completions for differential tests, fuzzing and benchmarks.

Everything here is plain data (dicts in the reference's JSON shape, lists of
ints), so the same case can be fed to harmony_grammar and to a reference
interpreter in another process.
"""

from __future__ import annotations

import random
from typing import Any

SPECIAL_LOOKALIKES = [
    "<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|call|>",
    "<|return|>", "<|endoftext|>", "<|reserved_200013|>", "<|", "|>", "<|end", "end|>", "<||>",
]

WORDS = [
    "hello", "world", "weather", "San Francisco", "functions", "analysis", "commentary", "final",
    "to=", "to=functions.get", "json", "user", "assistant", "tool", "system", "developer", "all",
    "The", "quick", "brown", "fox", "x", "I'm", "we'll", "DON'T", "2025", "3.14159", "12345678",
]

UNICODE = ["é", "ß", "日本語", "中文", "🙂", "👍🏽", "é", "עברית", "العربية", "Ω", "\u200b", "ﬁ", "𝔘", "〜", "【6†L9】"]

PUNCT = ["!", "!!!", "...", ",", ";", "{", "}", "[", "]", "\"", "'", "`", "//", "/*", "*/", "\\", "=>", "?", "|", "<", ">", ":", "#"]

SPACES = [" ", "  ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0", "\u3000", "   \t\n"]


def text(rng: random.Random, max_parts: int = 12, allow_empty: bool = True) -> str:
    """Random text mixing words, unicode, punctuation, whitespace and special-token spellings."""
    n = rng.randint(0 if allow_empty else 1, max_parts)
    parts = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.45:
            parts.append(rng.choice(WORDS))
        elif kind < 0.6:
            parts.append(rng.choice(SPACES))
        elif kind < 0.72:
            parts.append(rng.choice(PUNCT))
        elif kind < 0.84:
            parts.append(rng.choice(UNICODE))
        elif kind < 0.94:
            parts.append(rng.choice(SPECIAL_LOOKALIKES))
        else:
            parts.append("".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(1, 4))))
    out = "".join(parts)
    if not allow_empty and not out:
        out = "x"
    return out


def short_name(rng: random.Random) -> str:
    """A name-like string: usually an identifier, sometimes odd."""
    r = rng.random()
    if r < 0.7:
        return rng.choice(["get_weather", "lookup", "search", "f", "tool_1", "calc", "open", "find", "a_b_c"])
    if r < 0.85:
        return rng.choice(["name with space", "日本", "x-y", "1abc", "", "<|end|>", "weird\nname"])
    return text(rng, 3)


# -- JSON values and schemas --------------------------------------------------------


def json_scalar(rng: random.Random) -> Any:
    return rng.choice([
        None, True, False, 0, 1, -1, 10, 2**53, 2**63 - 1, 2**64 - 1, 2**70, -(2**63), -(2**64),
        0.5, 0.1, -0.0, 1.0, 1e16, 1e15, 1.5e-7, 123456.789, 1e-5, 0.0001, 1e300, -2.5e-10, 1e21, 123e20,
        "", "celsius", "a \"quoted\" value", "back\\slash", "line\nbreak", "tab\there", "日本", "🙂",
        "\u0001ctl", "\u007fdel", "<|end|>",
    ])


def json_value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth > 2 or r < 0.7:
        return json_scalar(rng)
    if r < 0.85:
        return [json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {short_name(rng) or "k": json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def schema(rng: random.Random, depth: int = 0) -> Any:
    """A JSON schema exercising every construct the TypeScript renderer knows, and malformed ones."""
    r = rng.random()
    if r < 0.04:
        return rng.choice(["string", 5, None, [], True])  # not an object at all
    out: dict[str, Any] = {}
    kinds = ["string", "number", "integer", "boolean", "array", "object", "null", "weird"]
    kind = rng.choice(kinds if depth < 3 else kinds[:5])
    r = rng.random()
    if r < 0.12 and depth < 3:
        out["oneOf"] = [schema(rng, depth + 1) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.2:
            out["type"] = kind
    elif r < 0.16:
        out["oneOf"] = rng.choice(["x", {"type": "string"}, None])
        out["type"] = kind
    elif r < 0.26:
        out["type"] = [rng.choice(["string", "integer", "number", "null", "boolean", 3]) for _ in range(rng.randint(0, 3))]
    elif r < 0.3:
        pass
    else:
        out["type"] = kind
    if kind == "object" and depth < 3 and rng.random() < 0.9:
        props = {}
        for _ in range(rng.randint(0, 4)):
            props[short_name(rng) or "p"] = schema(rng, depth + 1)
        out["properties"] = props if rng.random() < 0.95 else ["not", "an", "object"]
        if rng.random() < 0.6:
            keys = list(props)
            out["required"] = rng.sample(keys, rng.randint(0, len(keys))) + ([5] if rng.random() < 0.1 else [])
    if kind == "array" and rng.random() < 0.8:
        out["items"] = schema(rng, depth + 1) if rng.random() < 0.9 else None
    if kind == "string" and rng.random() < 0.4:
        out["enum"] = rng.choice([
            ["a", "b", "c"], [], ["only"], ["x", 1, None], [1, 2], ["with \"quote\"", "日本"],
        ])
    if rng.random() < 0.15 and "enum" not in out:
        out["enum"] = rng.choice([["p", "q"], [], [3]])
    if rng.random() < 0.4:
        out["description"] = text(rng, 6) if rng.random() < 0.9 else 42
    if rng.random() < 0.15:
        out["title"] = text(rng, 3) if rng.random() < 0.9 else ["t"]
    if rng.random() < 0.12:
        out["examples"] = rng.choice([[], ["hello", "world"], ["x", 1, None], "notalist", [text(rng, 3)]])
    if rng.random() < 0.3:
        out["default"] = json_value(rng)
    if rng.random() < 0.15:
        out["nullable"] = rng.choice([True, False, "true", 1])
    if "oneOf" in out and isinstance(out["oneOf"], list) and out["oneOf"] and rng.random() < 0.4:
        first = out["oneOf"][0]
        if isinstance(first, dict) and "description" in first:
            out["description"] = first["description"]  # exercises the de-duplication rule
    keys = list(out)
    rng.shuffle(keys)
    return {k: out[k] for k in keys}


def tool(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {"name": short_name(rng), "description": text(rng, 8)}
    r = rng.random()
    if r < 0.75:
        params = schema(rng)
        if not isinstance(params, dict):
            params = {"type": "object", "properties": {"value": params}}
        if rng.random() < 0.7:
            params["type"] = "object"
            params.setdefault("properties", {short_name(rng) or "q": schema(rng, 1)})
        out["parameters"] = params
    elif r < 0.85:
        out["parameters"] = {}
    return out


def namespace(rng: random.Random, name: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name or short_name(rng), "tools": [tool(rng) for _ in range(rng.randint(0, 4))]}
    if rng.random() < 0.6:
        out["description"] = text(rng, 10)
    return out


BROWSER = None  # filled lazily from the package data by callers that need it


def system_content(rng: random.Random, builtin_tools: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "system_content"}
    if rng.random() < 0.8:
        out["model_identity"] = rng.choice(["You are ChatGPT, a large language model trained by OpenAI.", text(rng, 6), ""])
    if rng.random() < 0.8:
        out["reasoning_effort"] = rng.choice(["Low", "Medium", "High"])
    if rng.random() < 0.5:
        out["conversation_start_date"] = rng.choice(["2025-06-28", text(rng, 3)])
    if rng.random() < 0.7:
        out["knowledge_cutoff"] = rng.choice(["2024-06", text(rng, 2)])
    r = rng.random()
    if r < 0.6:
        out["channel_config"] = {"valid_channels": ["analysis", "commentary", "final"], "channel_required": True}
    elif r < 0.85:
        out["channel_config"] = {
            "valid_channels": [text(rng, 2) for _ in range(rng.randint(0, 3))],
            "channel_required": rng.random() < 0.5,
        }
    if rng.random() < 0.5:
        tools = {}
        for name in rng.sample(["browser", "python", "custom"], rng.randint(0, 3)):
            if name in builtin_tools:
                tools[name] = builtin_tools[name]
            else:
                key = rng.choice(["zeta", "Alpha", "alpha", "_x", "日本"])
                tools[key] = namespace(rng, key if rng.random() < 0.8 else None)
        out["tools"] = tools
    return out


def developer_content(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "developer_content"}
    if rng.random() < 0.7:
        out["instructions"] = text(rng, 15) if rng.random() < 0.9 else ""
    if rng.random() < 0.8:
        tools: dict[str, Any] = {}
        if rng.random() < 0.85:
            tools["functions"] = namespace(rng, "functions")
            if rng.random() < 0.3:
                tools["functions"].pop("description", None)
        for _ in range(rng.randint(0, 2)):
            key = rng.choice(["zeta", "Alpha", "alpha", "_x", "browser"])
            tools[key] = namespace(rng, key)
        out["tools"] = tools
    return out


ROLES = ["user", "assistant", "system", "developer", "tool"]
CHANNELS = [None, None, "analysis", "commentary", "final", "analysis", "final", "commentary"]


def message(rng: random.Random, role: str | None = None) -> dict[str, Any]:
    role = role or rng.choice(ROLES)
    msg: dict[str, Any] = {"role": role}
    if role == "tool":
        msg["name"] = rng.choice(["functions.get_weather", "browser.search", "python", short_name(rng)]) if rng.random() < 0.97 else None
    elif rng.random() < 0.08:
        msg["name"] = short_name(rng)
    if rng.random() < 0.15:
        msg["content"] = text(rng, 10)
    else:
        msg["content"] = [{"type": "text", "text": text(rng, 10)} for _ in range(rng.choice([1, 1, 1, 2, 0, 3]))]
    r = rng.random()
    if r < 0.75:
        msg["channel"] = rng.choice(CHANNELS)
    elif r < 0.85:
        msg["channel"] = text(rng, 2)
    r = rng.random()
    if r < 0.25:
        msg["recipient"] = rng.choice(["functions.get_weather", "browser.search", "python", "all", "assistant"])
    elif r < 0.3:
        msg["recipient"] = text(rng, 2)
    r = rng.random()
    if r < 0.2:
        msg["content_type"] = rng.choice(["json", "<|constrain|>json", "code", "<|constrain|>", "", "text/plain"])
    elif r < 0.24:
        msg["content_type"] = text(rng, 2)
    return {k: v for k, v in msg.items() if v is not None or k == "name"}


def conversation(rng: random.Random, builtin_tools: dict[str, dict[str, Any]]) -> dict[str, Any]:
    msgs: list[dict[str, Any]] = []
    if rng.random() < 0.75:
        msgs.append({"role": "system", "content": [system_content(rng, builtin_tools)]})
    if rng.random() < 0.6:
        msgs.append({"role": "developer", "content": [developer_content(rng)]})
    for _ in range(rng.randint(0, 8)):
        msgs.append(message(rng))
    if rng.random() < 0.05:
        # structured content in the wrong role: the reference refuses it
        msgs.append({"role": rng.choice(ROLES), "content": [rng.choice([system_content(rng, builtin_tools), developer_content(rng)])]})
    if rng.random() < 0.4:
        msgs.append({"role": "assistant", "channel": "final", "content": [{"type": "text", "text": text(rng, 6)}]})
    return {"messages": msgs}


def render_case(rng: random.Random, builtin_tools: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One rendering request: a conversation (or a single message) and how to render it."""
    r = rng.random()
    if r < 0.15:
        msg = message(rng)
        if rng.random() < 0.3:
            msg = {"role": rng.choice(["system", "developer"]),
                   "content": [rng.choice([system_content(rng, builtin_tools), developer_content(rng)])]}
        return {"op": "render", "message": msg,
                "options": rng.choice([None, True, False])}
    mode = rng.choice(["completion", "completion", "training", "conversation"])
    return {
        "op": "render_conversation",
        "mode": mode,
        "conversation": conversation(rng, builtin_tools),
        "next_role": rng.choice(ROLES),
        "auto_drop_analysis": rng.choice([None, True, False]),
    }


# -- completions (token ids) ---------------------------------------------------------

STRUCTURE = [200006, 200008, 200005, 200003, 200007, 200012, 200002]  # start message channel constrain end call return
ODD_SPECIALS = [199998, 199999, 200000, 200004, 200013, 200500, 201088]
OUT_OF_VOCAB = [201089, 250000, 2**31 - 1, 2**31, 2**32 - 1]


def header_text(rng: random.Random) -> str:
    """Header text in the shapes models write (mostly), and odd ones."""
    if rng.random() < 0.8:
        role = rng.choice(["assistant", "assistant", "assistant", "user", "functions.get_weather to=assistant",
                           "browser.search to=assistant", "system", "developer"])
        channel = rng.choice(["analysis", "commentary", "final"])
        r = rng.random()
        if r < 0.3 or (" to=" in role and r < 0.7):
            return f"{role}<|channel|>{channel}"
        if r < 0.5:
            return f"{role} to=functions.f<|channel|>{channel}" + rng.choice(["", " <|constrain|>json", " code"])
        if r < 0.7:
            return f"{role}<|channel|>{channel} to=functions.f" + rng.choice(["", " <|constrain|>json", "<|constrain|>json"])
        if r < 0.8:
            return role
        return f"{role}<|channel|>{channel}" + rng.choice([" json", "<|channel|>x", " to=a b", " a b c"])
    role = rng.choice(["assistant", "user", "tool", "functions.get_weather", "Assistant", "", "to=x", "a b"])
    parts = [role]
    if rng.random() < 0.5:
        parts.append(rng.choice([" to=functions.get_weather", " to=assistant", " x", "  to=a b"]))
    if rng.random() < 0.75:
        parts.append("<|channel|>" + rng.choice(["analysis", "", " final", "final ", "x<y"]))
    if rng.random() < 0.25:
        parts.append(rng.choice([" <|constrain|>json", "<|constrain|>json", " json", " <|constrain|>"]))
    if rng.random() < 0.2:
        parts.append(text(rng, 3))
    return "".join(parts)


def completion_tokens(rng: random.Random, with_start: bool, encode: "Any", encode_ordinary: "Any") -> list[int]:
    """Well-formed messages; header text may spell special tokens, content never does."""
    out: list[int] = []
    for i in range(rng.randint(1, 4)):
        if i > 0 or with_start:
            out.append(200006)
        out.extend(encode(header_text(rng)))
        out.append(200008)
        out.extend(encode_ordinary(text(rng, 8)))
        end = rng.choice([200007, 200007, 200012, 200002, None]) if i < 3 else None
        if end is None:
            break
        out.append(end)
    return out


def mutate(rng: random.Random, tokens: list[int]) -> list[int]:
    """Delete, insert, replace or truncate a few tokens."""
    toks = list(tokens)
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        pos = rng.randint(0, len(toks)) if toks else 0
        if op < 0.3 and toks:
            del toks[min(pos, len(toks) - 1)]
        elif op < 0.6:
            toks.insert(pos, rng.choice(STRUCTURE + ODD_SPECIALS + [rng.randint(0, 199997)]))
        elif op < 0.75 and toks:
            toks[min(pos, len(toks) - 1)] = rng.choice(STRUCTURE + [rng.randint(0, 199997)])
        elif op < 0.9:
            toks = toks[:pos]
        else:
            toks.insert(pos, rng.choice(OUT_OF_VOCAB))
    return toks


def random_tokens(rng: random.Random) -> list[int]:
    """Random token ids, biased towards structure and byte-level tokens that split UTF-8."""
    out = []
    for _ in range(rng.randint(0, 30)):
        r = rng.random()
        if r < 0.35:
            out.append(rng.choice(STRUCTURE))
        elif r < 0.45:
            out.append(rng.choice(ODD_SPECIALS))
        elif r < 0.6:
            out.append(rng.randint(0, 255))  # single bytes, often invalid UTF-8 on their own
        elif r < 0.62:
            out.append(rng.choice(OUT_OF_VOCAB))
        else:
            out.append(rng.randint(0, 199997))
    return out


def parse_case_tokens(rng: random.Random, encode: "Any", encode_ordinary: "Any") -> tuple[list[int], str | None]:
    """A token list and the role to parse it with (None: it starts with <|start|>)."""
    with_role = rng.random() < 0.4
    kind = rng.random()
    if kind < 0.55:
        tokens = completion_tokens(rng, not with_role, encode, encode_ordinary)
    elif kind < 0.8:
        tokens = mutate(rng, completion_tokens(rng, not with_role, encode, encode_ordinary))
    else:
        tokens = random_tokens(rng)
        if not with_role and rng.random() < 0.7:
            tokens = [200006] + tokens
    role = rng.choice(["assistant", "assistant", "user", "tool", "system", "developer"]) if with_role else None
    return tokens, role


# -- chat (OpenAI-style) messages and assistant completions -----------------------------

def _plain(rng: random.Random, allow_empty: bool = True) -> str:
    """Text without special-token spellings (chat content is always ordinary text)."""
    return text(rng, 8, allow_empty)


def chat_turn(rng: random.Random, calls_so_far: list[int]) -> list[dict[str, Any]]:
    """One user turn and the assistant's answer, with optional reasoning, preamble and tool calls."""
    out: list[dict[str, Any]] = []
    content: Any = _plain(rng)
    if rng.random() < 0.3:
        content = [{"type": "text", "text": _plain(rng)} for _ in range(rng.randint(1, 3))]
    out.append({"role": "user", "content": content})
    for _ in range(rng.randint(0, 2)):
        calls = []
        for _ in range(rng.randint(1, 3)):
            calls_so_far[0] += 1
            calls.append({"id": f"id{calls_so_far[0]}", "type": "function",
                          "function": {"name": rng.choice(["get_weather", "lookup", "f"]),
                                       "arguments": rng.choice(['{"city":"Paris"}', "{}", "", _plain(rng)])}})
        msg: dict[str, Any] = {"role": "assistant", "content": _plain(rng, False) if rng.random() < 0.4 else None,
                               "tool_calls": calls}
        if rng.random() < 0.6:
            msg["reasoning_content"] = _plain(rng, False)
        out.append(msg)
        for call in calls:
            out.append({"role": "tool", "tool_call_id": call["id"], "content": _plain(rng)})
    final: dict[str, Any] = {"role": "assistant", "content": _plain(rng)}
    if rng.random() < 0.6:
        final["reasoning_content"] = _plain(rng, False)
    out.append(final)
    return out


def chat_messages(rng: random.Random) -> list[dict[str, Any]]:
    """A chat conversation: optional system prompt, then one to three turns."""
    out: list[dict[str, Any]] = []
    if rng.random() < 0.7:
        out.append({"role": rng.choice(["system", "developer"]), "content": _plain(rng, False)})
    counter = [0]
    for _ in range(rng.randint(1, 3)):
        out.extend(chat_turn(rng, counter))
    return out


def assistant_completion(rng: random.Random) -> str:
    """What gpt-oss writes after ``<|start|>assistant``: reasoning, preambles, calls, a final answer.

    The text is meant for ``encode(..., allowed_special="all")``, so the message
    text never spells a special token.
    """
    def _plain(rng: random.Random, allow_empty: bool = True) -> str:
        return text(rng, 8, allow_empty).replace("<|", "<")

    parts: list[str] = []
    first = True

    def header(h: str) -> str:
        nonlocal first
        out = h if first else "<|start|>assistant" + h
        first = False
        return out

    if rng.random() < 0.7:
        parts.append(header("<|channel|>analysis<|message|>") + _plain(rng) + "<|end|>")
    if rng.random() < 0.3:
        parts.append(header("<|channel|>commentary<|message|>") + _plain(rng) + "<|end|>")
    if rng.random() < 0.5:
        recipient = rng.choice(["functions.get_weather", "functions.f", "browser.search", "python"])
        channel = "analysis" if not recipient.startswith("functions.") else "commentary"
        ctype = rng.choice([" <|constrain|>json", "", " code"])
        parts.append(header(f"<|channel|>{channel} to={recipient}{ctype}<|message|>")
                     + rng.choice(['{"city":"Paris"}', _plain(rng)]) + "<|call|>")
    else:
        parts.append(header("<|channel|>final<|message|>") + _plain(rng) + rng.choice(["<|return|>", ""]))
    return "".join(parts)
