"""Benchmark inputs, built from the public API so the same code runs under harmony_grammar and the reference."""

from __future__ import annotations

import random
from typing import Any

WORDS = ("the quick brown fox jumps over a lazy dog while the weather in San Francisco stays mild "
         "and the user asks about prices, flights, hotels, restaurants and museums near the bay").split()


def _para(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _schema(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    props: dict[str, Any] = {
        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
        "days": {"type": "integer", "description": "How many days", "default": 3},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "Optional tags"},
        "mode": {"oneOf": [{"type": "string", "description": "A named mode"}, {"type": "number"}],
                 "description": "The mode", "default": "fast"},
    }
    if depth < 2:
        props["options"] = _schema(rng, depth + 1)
        props["options"]["description"] = "Nested options"
    return {"type": "object", "properties": props, "required": ["location"]}


def conversation(h: Any, turns: int = 20, seed: int = 0) -> Any:
    """System with browser and python tools, developer with 12 nested-schema functions, ``turns`` turns."""
    rng = random.Random(seed)
    system = (h.SystemContent.new().with_reasoning_effort(h.ReasoningEffort.HIGH)
              .with_conversation_start_date("2025-06-28").with_browser_tool().with_python_tool())
    tools = [h.ToolDescription.new(f"tool_{i}", f"Tool number {i}. " + _para(rng, 12), _schema(rng)) for i in range(12)]
    developer = h.DeveloperContent.new().with_instructions(_para(rng, 60)).with_function_tools(tools)
    msgs = [h.Message.from_role_and_content(h.Role.SYSTEM, system),
            h.Message.from_role_and_content(h.Role.DEVELOPER, developer)]
    for i in range(turns):
        msgs.extend(turn(h, rng, i))
    return h.Conversation.from_messages(msgs)


def turn(h: Any, rng: random.Random, i: int) -> list[Any]:
    """User, analysis, tool call, tool result and final."""
    tool = f"functions.tool_{i % 12}"
    return [
        h.Message.from_role_and_content(h.Role.USER, _para(rng, 18)),
        h.Message.from_role_and_content(h.Role.ASSISTANT, _para(rng, 30)).with_channel("analysis"),
        h.Message.from_role_and_content(h.Role.ASSISTANT, '{"location": "San Francisco, CA", "days": 3}')
        .with_channel("commentary").with_recipient(tool).with_content_type("<|constrain|>json"),
        h.Message.from_author_and_content(h.Author.new(h.Role.TOOL, tool), '{"result": "' + _para(rng, 15) + '"}')
        .with_channel("commentary").with_recipient("assistant"),
        h.Message.from_role_and_content(h.Role.ASSISTANT, _para(rng, 22)).with_channel("final"),
    ]


def completion_text(seed: int = 1, rounds: int = 10) -> str:
    """About 5,000 tokens of model output: analysis, tool call, tool result, final."""
    rng = random.Random(seed)
    out = []
    for _ in range(rounds):
        out.append("<|start|>assistant<|channel|>analysis<|message|>" + _para(rng, 260) + "<|end|>")
        out.append("<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
                   '{"location": "' + _para(rng, 10) + '"}<|call|>')
        out.append("<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>"
                   + _para(rng, 120) + "<|end|>")
    out.append("<|start|>assistant<|channel|>final<|message|>" + _para(rng, 200) + "<|return|>")
    return "".join(out)


def training_set(h: Any, n: int = 1000, seed: int = 2) -> list[Any]:
    """``n`` varied conversations for render_conversation_for_training."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        system = h.SystemContent.new().with_reasoning_effort(rng.choice(list(h.ReasoningEffort)))
        msgs = [h.Message.from_role_and_content(h.Role.SYSTEM, system)]
        if k % 3 == 0:
            tools = [h.ToolDescription.new(f"f{j}", _para(rng, 8), _schema(rng, 2)) for j in range(rng.randint(1, 3))]
            msgs.append(h.Message.from_role_and_content(h.Role.DEVELOPER,
                                                        h.DeveloperContent.new().with_function_tools(tools)))
        for i in range(rng.randint(1, 3)):
            msgs.extend(turn(h, rng, i))
        out.append(h.Conversation.from_messages(msgs))
    return out


def chat(turns: int = 20, seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Figure b's conversation as Chat Completions messages, tools and keywords (for apply_chat_template)."""
    rng = random.Random(seed)
    tools = [{"type": "function", "function": {"name": f"tool_{i}", "description": f"Tool number {i}. " + _para(rng, 12),
                                               "parameters": _schema(rng)}} for i in range(12)]
    messages: list[dict[str, Any]] = [{"role": "system", "content": _para(rng, 60)}]
    for i in range(turns):
        messages += [
            {"role": "user", "content": _para(rng, 18)},
            {"role": "assistant", "reasoning_content": _para(rng, 30), "tool_calls": [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": f"tool_{i % 12}", "arguments": '{"location": "San Francisco, CA", "days": 3}'}}]},
            {"role": "tool", "tool_call_id": f"call_{i}", "content": '{"result": "' + _para(rng, 15) + '"}'},
            {"role": "assistant", "content": _para(rng, 22)},
        ]
    keywords = {"reasoning_effort": "high", "conversation_start_date": "2025-06-28", "builtin_tools": ["browser", "python"]}
    return messages, tools, keywords
