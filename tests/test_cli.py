"""The ``harmony-grammar`` command line: exact output, in-process and through the console script."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harmony_grammar import (
    Conversation,
    HarmonyError,
    RenderConversationConfig,
    Role,
)
from harmony_grammar.cli import COMMANDS, example_conversation, main, use_color

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "conversation.json"
README = ROOT / "README.md"

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

ANALYSIS = (
    "<|start|>assistant<|channel|>analysis<|message|>"
    "The user asks for the weather in San Francisco. I should call get_current_weather.<|end|>"
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def example() -> Conversation:
    return Conversation.from_json(EXAMPLE.read_text(encoding="utf-8"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the example -------------------------------------------------------------


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


# -- render: text ------------------------------------------------------------


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


# -- render: tokens and json -------------------------------------------------


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


# -- colour ------------------------------------------------------------------


def test_no_colour_when_not_a_terminal(capsys, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    code, out, _ = run(capsys, "render")
    assert code == 0 and "\x1b" not in out


def test_colour_marks_special_tokens_only(capsys):
    code, out, err = run(capsys, "render", "--color", "always")
    assert (code, err) == (0, "")
    assert out.startswith("\x1b[1;36m<|start|>\x1b[0msystem\x1b[1;36m<|message|>\x1b[0mYou are ChatGPT")
    assert ANSI.sub("", out) == EXPECTED_RENDER
    coloured = re.findall(r"\x1b\[1;36m(.*?)\x1b\[0m", out)
    assert coloured == re.findall(r"<\|[a-z]+\|>", EXPECTED_RENDER)


def test_colour_never_in_tokens_output(capsys):
    code, out, _ = run(capsys, "render", "--color", "always", "--output", "tokens")
    assert code == 0 and "\x1b" not in out


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_use_color_auto(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert use_color("auto", _Stream(True)) is True
    assert use_color("auto", _Stream(False)) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color("auto", _Stream(True)) is False
    assert use_color("always", _Stream(False)) is True
    monkeypatch.setenv("NO_COLOR", "")  # empty means unset (no-color.org)
    assert use_color("auto", _Stream(True)) is True
    monkeypatch.setenv("TERM", "dumb")
    assert use_color("auto", _Stream(True)) is False
    assert use_color("never", _Stream(True)) is False


# -- errors ------------------------------------------------------------------


def test_invalid_json_file(capsys, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"messages": [', encoding="utf-8")
    code, out, err = run(capsys, "render", str(path))
    assert (code, out) == (2, "")
    assert err == f"{path}: error: conversation JSON, line 1 column 15: Expecting value\n"


def test_missing_file(capsys, tmp_path):
    path = tmp_path / "nope.json"
    code, out, err = run(capsys, "render", str(path))
    assert (code, out, err) == (2, "", f"{path}: error: cannot read file: No such file or directory\n")


def test_not_utf8(capsys, tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"messages": [{"role": "user", "content": "caf\xe9"}]}')
    code, out, err = run(capsys, "render", str(path))
    assert (code, out, err) == (2, "", f"{path}: error: not valid UTF-8 (byte offset 46)\n")


def test_invalid_json_on_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("[]"))
    code, out, err = run(capsys, "render", "-")
    assert (code, out, err) == (2, "", "<stdin>: error: conversation: expected an object, found list\n")


def test_unknown_role_in_file(capsys, tmp_path):
    path = tmp_path / "role.json"
    path.write_text('{"messages": [{"role": "robot", "content": "hi"}]}', encoding="utf-8")
    code, out, err = run(capsys, "render", str(path))
    assert (code, out) == (2, "")
    assert err == (
        f"{path}: error: messages[0].role: unknown role 'robot' "
        "(expected one of 'user', 'assistant', 'system', 'developer', 'tool')\n"
    )


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


def test_validation_error_is_one_line(capsys, tmp_path):
    path = tmp_path / "effort.json"
    path.write_text(
        json.dumps({"messages": [{"role": "system", "content": [
            {"type": "system_content", "reasoning_effort": "Extreme"}]}]}),
        encoding="utf-8",
    )
    code, out, err = run(capsys, "render", str(path))
    assert (code, out) == (2, "")
    assert err == (
        f"{path}: error: invalid SystemContent: reasoning_effort: Input should be 'Low', 'Medium' or 'High'\n"
    )


def test_render_error_names_the_file(capsys, tmp_path, enc):
    payload = json.dumps({"messages": [{"role": "user", "content": [{"type": "system_content"}]}]})
    path = tmp_path / "misplaced.json"
    path.write_text(payload, encoding="utf-8")
    with pytest.raises(HarmonyError) as raised:
        enc.render_conversation_for_completion(Conversation.from_json(payload), Role.ASSISTANT)
    code, out, err = run(capsys, "render", str(path))
    assert (code, out, err) == (2, "", f"{path}: error: {raised.value}\n")


def test_deeply_nested_input(capsys, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    code, out, err = run(capsys, "render", str(path))
    assert (code, out, err) == (2, "", f"{path}: error: conversation JSON is nested too deeply\n")


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


# -- usage -------------------------------------------------------------------


def test_no_command_prints_help(capsys):
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err.startswith("usage: harmony-grammar [-h] [--version] COMMAND ...\n")


def test_help_has_an_example_for_every_command(capsys):
    code, out, err = run(capsys, "--help")
    assert (code, err) == (0, "")
    for command in COMMANDS:
        assert f"\n    {command.name} " in out
        assert command.examples[0] in out
        sub_code, sub_out, _ = run(capsys, command.name, "--help")
        assert sub_code == 0
        assert sub_out.startswith(f"usage: harmony-grammar {command.name} ")
        for example in command.examples:
            assert f"\n  {example}\n" in sub_out + "\n"


def test_version(capsys):
    code, out, err = run(capsys, "--version")
    assert code == 0
    assert re.fullmatch(r"harmony-grammar \S+.*\n", out)


# -- the README --------------------------------------------------------------


def test_readme_shows_the_real_render_output():
    text = README.read_text(encoding="utf-8")
    assert "python -m venv .venv && .venv/bin/pip install . && .venv/bin/harmony-grammar render" in text
    assert "python -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest" in text
    assert "```text\n" + EXPECTED_RENDER + "```\n" in text


def test_readme_library_example_prints_what_it_says(capsys):
    text = README.read_text(encoding="utf-8")
    code, printed = re.search(r"```python\n(.*?)```\n\nprints\n\n```text\n(.*?)```\n", text, re.S).groups()
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out == printed


# -- as a program ------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TIKTOKEN_ENCODINGS_BASE")}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def test_python_dash_m(tmp_path, enc, example):
    proc = subprocess.run(
        [sys.executable, "-m", "harmony_grammar", "render", "--output", "tokens"],
        capture_output=True, text=True, cwd=tmp_path, env=_clean_env(), timeout=120,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert json.loads(proc.stdout) == enc.render_conversation_for_completion(example, Role.ASSISTANT)


def test_console_script(tmp_path):
    script = Path(sys.executable).parent / ("harmony-grammar.exe" if os.name == "nt" else "harmony-grammar")
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    proc = subprocess.run([str(script), "render"], capture_output=True, text=True, cwd=tmp_path,
                          env=_clean_env(), timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, EXPECTED_RENDER, "")
    bad = tmp_path / "bad.json"
    bad.write_text("nope", encoding="utf-8")
    proc = subprocess.run([str(script), "render", "bad.json"], capture_output=True, text=True, cwd=tmp_path,
                          env=_clean_env(), timeout=120)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "bad.json: error: conversation JSON, line 1 column 1: Expecting value\n"
