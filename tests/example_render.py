"""The example conversation's file and what ``harmony-grammar render`` prints for it, shared by the tests."""

from __future__ import annotations

from pathlib import Path

# The CLI's built-in example (harmony_grammar.example reads it; the wheel ships it).
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "conversation.json"

# What ``harmony-grammar render`` prints for the built-in example: checked
# against oss-harmony 0.0.11, and pasted in the README.
EXPECTED_RENDER = """\
<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.
Knowledge cutoff: 2024-06
Current date: 2025-06-28

Reasoning: low

# Valid channels: analysis, commentary, final. Channel must be included for every message.
Calls to these tools must go to the commentary channel: 'functions'.<|end|><|start|>developer<|message|># Instructions

Always respond in riddles

# Tools

## functions

namespace functions {

// Gets the current weather in the provided location.
type get_current_weather = (_: {
// The city and state, e.g. San Francisco, CA
location: string,
format?: "celsius" | "fahrenheit", // default: celsius
}) => any;

} // namespace functions<|end|><|start|>user<|message|>What is the weather like in SF?<|end|>\
<|start|>assistant<|channel|>commentary to=functions.get_current_weather <|constrain|>json<|message|>\
{"location": "San Francisco, CA"}<|call|>\
<|start|>functions.get_current_weather<|channel|>commentary to=assistant<|message|>\
{"temperature": 20, "sunny": true}<|end|>\
<|start|>assistant<|channel|>final<|message|>\
Where the fog rolls in by the Golden Gate, twenty degrees and sunshine await.<|end|><|start|>assistant
"""
