"""``harmony-grammar render`` and ``example``: exact output, modes, errors, dialects and template folders."""

from __future__ import annotations

import io
import json
import sys

import pytest

from cli_helpers import EXAMPLES, README, ROOT, TRANSCRIPT, run
from example_render import EXAMPLE, EXPECTED_RENDER
from harmony_grammar import Conversation, HarmonyError, RenderConversationConfig, Role
from harmony_grammar.cli.io import BUILTIN, read_conversation
from harmony_grammar.example import example_conversation


ANALYSIS = (
    "<|start|>assistant<|channel|>analysis<|message|>"
    "The user asks for the weather in San Francisco. I should call get_current_weather.<|end|>"
)


# -- the example -------------------------------------------------------------


def test_the_builtin_example_is_the_example_file(example):
    """What render uses without a file, harmony_grammar.example and examples/conversation.json: one conversation."""
    from harmony_grammar.resources import data_dir

    builtin, where = read_conversation(None)
    assert where == BUILTIN
    assert builtin == example_conversation() == example
    assert data_dir("examples") / "conversation.json" == EXAMPLE
    first = example_conversation()
    first.messages.clear()  # a fresh conversation on every call
    assert example_conversation() == example
    assert read_conversation(None)[0] == example


def test_example_file_is_the_builtin_conversation(capsys, example):
    assert example == example_conversation()
    assert json.loads(EXAMPLE.read_text(encoding="utf-8")) == json.loads(example_conversation().to_json())
    code, out, err = run(capsys, "example")
    assert (code, err) == (0, "")
    assert out == EXAMPLE.read_text(encoding="utf-8")


def test_example_has_every_kind_of_message(example):
    kinds = [(m.author.role, m.channel, m.recipient, m.content_type) for m in example.messages]
    assert kinds == [
        (Role.SYSTEM, None, None, None),
        (Role.DEVELOPER, None, None, None),
        (Role.USER, None, None, None),
        (Role.ASSISTANT, "analysis", None, None),
        (Role.ASSISTANT, "commentary", "functions.get_current_weather", "<|constrain|>json"),
        (Role.TOOL, "commentary", "assistant", None),
        (Role.ASSISTANT, "final", None, None),
    ]


# -- text --------------------------------------------------------------------


def test_render_without_arguments_prints_the_example(capsys, enc, example):
    code, out, err = run(capsys, "render")
    assert (code, err) == (0, "")
    assert out == EXPECTED_RENDER
    assert out.startswith("<|start|>system<|message|>")
    assert out.endswith("<|start|>assistant\n")
    tokens = enc.render_conversation_for_completion(example, Role.ASSISTANT)
    assert out == enc.decode_utf8(tokens) + "\n"


def test_render_file_matches_builtin(capsys):
    code, out, err = run(capsys, "render", str(EXAMPLE))
    assert (code, out, err) == (0, EXPECTED_RENDER, "")


def test_render_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(EXAMPLE.read_bytes()), encoding="utf-8"))
    code, out, err = run(capsys, "render", "-")
    assert (code, out, err) == (0, EXPECTED_RENDER, "")


def test_render_drops_analysis_unless_kept(capsys, enc, example):
    assert ANALYSIS not in EXPECTED_RENDER
    code, out, err = run(capsys, "render", "--keep-analysis")
    assert (code, err) == (0, "")
    tokens = enc.render_conversation_for_completion(
        example, Role.ASSISTANT, RenderConversationConfig(auto_drop_analysis=False)
    )
    assert out == enc.decode_utf8(tokens) + "\n"
    before, after = EXPECTED_RENDER.split("<|start|>assistant<|channel|>commentary", 1)
    assert out == before + ANALYSIS + "<|start|>assistant<|channel|>commentary" + after


def test_render_next_role(capsys, enc, example):
    code, out, err = run(capsys, "render", "--next-role", "user")
    assert (code, err) == (0, "")
    assert out == EXPECTED_RENDER[: -len("<|start|>assistant\n")] + "<|start|>user\n"
    assert out == enc.decode_utf8(enc.render_conversation_for_completion(example, Role.USER)) + "\n"


def test_render_mode_training(capsys, enc, example):
    code, out, err = run(capsys, "render", "--mode", "training")
    assert (code, err) == (0, "")
    tokens = enc.render_conversation_for_training(example)
    assert out == enc.decode_utf8(tokens) + "\n"
    assert out == EXPECTED_RENDER[: -len("<|end|><|start|>assistant\n")] + "<|return|>\n"


def test_render_mode_conversation(capsys, enc, example):
    code, out, err = run(capsys, "render", "--mode", "conversation", "--keep-analysis")
    assert (code, err) == (0, "")
    tokens = enc.render_conversation(example, RenderConversationConfig(auto_drop_analysis=False))
    assert out == enc.decode_utf8(tokens) + "\n"
    assert out.endswith("twenty degrees and sunshine await.<|end|>\n")


# -- tokens and json ---------------------------------------------------------


def test_render_output_tokens(capsys, enc, example):
    code, out, err = run(capsys, "render", "--output", "tokens")
    assert (code, err) == (0, "")
    tokens = enc.render_conversation_for_completion(example, Role.ASSISTANT)
    assert out == json.dumps(tokens) + "\n"
    assert json.loads(out) == tokens
    assert tokens[:3] == [200006, 17360, 200008]  # <|start|> system <|message|>
    assert tokens[-2:] == [200006, 173781]  # <|start|> assistant


def test_render_output_tokens_training(capsys, enc, example):
    code, out, err = run(capsys, "render", str(EXAMPLE), "--mode", "training", "--output", "tokens")
    assert (code, err) == (0, "")
    tokens = enc.render_conversation_for_training(example)
    assert json.loads(out) == tokens
    assert tokens[-1] == 200002  # <|return|>


def test_render_output_json(capsys, enc, example):
    code, out, err = run(capsys, "render", "--output", "json")
    assert (code, err) == (0, "")
    tokens = enc.render_conversation_for_completion(example, Role.ASSISTANT)
    assert json.loads(out) == {"tokens": tokens, "text": EXPECTED_RENDER[:-1]}


# -- errors ------------------------------------------------------------------


def test_unknown_next_role(capsys):
    code, out, err = run(capsys, "render", "--next-role", "robot")
    assert (code, out) == (2, "")
    assert err.startswith("usage: harmony-grammar render ")
    assert err.endswith(
        "harmony-grammar render: error: argument --next-role: invalid choice: 'robot' "
        "(choose from 'user', 'assistant', 'system', 'developer', 'tool')\n"
    )


def test_next_role_outside_completion_mode(capsys):
    code, out, err = run(capsys, "render", "--mode", "training", "--next-role", "user")
    assert (code, out) == (2, "")
    assert err.endswith(
        "harmony-grammar render: error: --next-role only applies to --mode completion, not --mode training\n"
    )


def test_render_error_names_the_file(capsys, tmp_path, enc):
    payload = json.dumps({"messages": [{"role": "user", "content": [{"type": "system_content"}]}]})
    path = tmp_path / "misplaced.json"
    path.write_text(payload, encoding="utf-8")
    with pytest.raises(HarmonyError) as raised:
        enc.render_conversation_for_completion(Conversation.from_json(payload), Role.ASSISTANT)
    code, out, err = run(capsys, "render", str(path))
    assert (code, out, err) == (2, "", f"{path}: error: {raised.value}\n")


def test_deeply_nested_schema(capsys, tmp_path):
    schema: dict = {"type": "string"}
    for _ in range(300):
        schema = {"type": "object", "properties": {"a": schema}}
    tools = {"functions": {"name": "functions", "tools": [{"name": "f", "description": "d", "parameters": schema}]}}
    payload = {"messages": [{"role": "developer", "content": [{"type": "developer_content", "tools": tools}]}]}
    path = tmp_path / "deep-schema.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    code, out, err = run(capsys, "render", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"{path}: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


# -- dialects and template folders -------------------------------------------


def test_render_in_the_openai_harmony_dialect(capsys):
    from harmony_grammar import load_harmony_encoding

    code, out, err = run(capsys, "render", "--dialect", "openai-harmony", "--output", "tokens", "--color", "never")
    upstream = load_harmony_encoding("HarmonyGptOss", dialect="openai-harmony")
    assert (code, err) == (0, "")
    assert json.loads(out) == upstream.render_conversation_for_completion(example_conversation(), Role.ASSISTANT)
    code, text, _ = run(capsys, "render", "--dialect", "openai-harmony", "--color", "never")
    assert "<|start|>assistant to=functions.get_current_weather<|channel|>commentary <|constrain|>json<|message|>" in text


def test_render_with_a_template_folder(capsys, tmp_path):
    code, out, err = run(capsys, "templates", "export", str(tmp_path / "t"), "--dialect", "openai-harmony")
    assert code == 0 and out.splitlines()[6] == str(tmp_path / "t" / "header.jinja")
    system = tmp_path / "t" / "system.jinja"
    system.write_text(system.read_text(encoding="utf-8").replace('"Current date: "', '"Today: "'), encoding="utf-8")
    code, out, err = run(capsys, "render", "--templates", str(tmp_path / "t"), "--color", "never")
    assert code == 0
    assert out.splitlines()[:3] == ["<|start|>system<|message|>You are ChatGPT, a large language model trained by "
                                    "OpenAI.", "Knowledge cutoff: 2024-06", "Today: 2025-06-28"]


# -- the README --------------------------------------------------------------


def test_readme_shows_the_real_render_output():
    text = README.read_text(encoding="utf-8")
    assert "python -m venv .venv && .venv/bin/pip install . && .venv/bin/harmony-grammar render" in text
    assert "python -m venv .venv && .venv/bin/pip install -e '.[test,integrations]' && .venv/bin/python -m pytest -n auto" in text
    assert "```text\n" + EXPECTED_RENDER + "```\n" in text


def test_transcript_example_is_the_rendered_example(capsys):
    code, out, err = run(capsys, "render", "--mode", "conversation", str(EXAMPLE))
    assert (code, err) == (0, "")
    assert out == TRANSCRIPT.read_text(encoding="utf-8")


def test_readme_transcript_command(capsys, monkeypatch):
    """The README's render command (with its redirection) makes examples/transcript.txt."""
    command = "harmony-grammar render --mode conversation examples/conversation.json > examples/transcript.txt"
    assert f"```sh\n{command}\n```" in README.read_text(encoding="utf-8")
    monkeypatch.chdir(ROOT)
    code, out, err = run(capsys, "render", "--mode", "conversation", "examples/conversation.json")
    assert (code, err) == (0, "")
    assert out == (EXAMPLES / "transcript.txt").read_text(encoding="utf-8")
