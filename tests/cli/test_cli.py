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
from harmony_grammar.cli import BUILTIN, COMMANDS, example_conversation, main, use_color

ROOT = Path(__file__).resolve().parents[2]
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
        assert re.search(rf"\n    {command.name}\s", out)  # argparse puts a long name's help on the next line
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


# -- validate ----------------------------------------------------------------

EXAMPLES = ROOT / "examples"
TRANSCRIPT = EXAMPLES / "transcript.txt"
BROKEN = EXAMPLES / "broken.txt"
COMPLETION = EXAMPLES / "completion.json"

BROKEN_TEXT = """\
{path}:17:32: warning: whitespace between messages ('\\n'); the model never sees it, remove it [S003]
{path}:18:72: error: channel 'thinking' is not one of the valid channels the system message declares \
(analysis, commentary, final) [C001]
{path}:18:263: error: content is constrained to JSON but is not valid JSON: Expecting value at line 1 column 14 \
of the content [J001]
{path}:18:357: error: expected <|message|> after the header, found <|end|> [H002]
{path}:18:427: error: <|return|> ends only the last message; prompt history must use <|end|> [E001]
{path}:18:475: error: text after the last message: 'Bye.' [S002]
"""


def _broken_json(path: str) -> list[dict]:
    rows = [
        ("warning", "S003", "whitespace between messages ('\\n'); the model never sees it, remove it", 17, 32),
        ("error", "C001", "channel 'thinking' is not one of the valid channels the system message declares "
                          "(analysis, commentary, final)", 18, 72),
        ("error", "J001", "content is constrained to JSON but is not valid JSON: Expecting value at line 1 "
                          "column 14 of the content", 18, 263),
        ("error", "H002", "expected <|message|> after the header, found <|end|>", 18, 357),
        ("error", "E001", "<|return|> ends only the last message; prompt history must use <|end|>", 18, 427),
        ("error", "S002", "text after the last message: 'Bye.'", 18, 475),
    ]
    return [{"severity": s, "code": c, "message": m, "line": line, "column": col, "path": path}
            for s, c, m, line, col in rows]


def test_transcript_example_is_the_rendered_example(capsys):
    code, out, err = run(capsys, "render", "--mode", "conversation", str(EXAMPLE))
    assert (code, err) == (0, "")
    assert out == TRANSCRIPT.read_text(encoding="utf-8")


def test_validate_valid_transcript(capsys):
    code, out, err = run(capsys, "validate", str(TRANSCRIPT))
    assert (code, out, err) == (0, "", "1 file: 0 errors, 0 warnings\n")


def test_validate_broken_transcript(capsys):
    code, out, err = run(capsys, "validate", str(BROKEN))
    assert (code, out, err) == (1, BROKEN_TEXT.format(path=BROKEN), "1 file: 5 errors, 1 warning\n")


def test_validate_several_files(capsys):
    code, out, err = run(capsys, "validate", str(TRANSCRIPT), str(BROKEN), str(TRANSCRIPT))
    assert (code, out, err) == (1, BROKEN_TEXT.format(path=BROKEN), "3 files: 5 errors, 1 warning\n")


def test_validate_warnings_only_exit_zero(capsys, tmp_path):
    path = tmp_path / "gap.txt"
    path.write_text("<|start|>user<|message|>Hi<|end|> <|start|>user<|message|>Again<|end|>\n", encoding="utf-8")
    code, out, err = run(capsys, "validate", str(path))
    assert (code, err) == (0, "1 file: 0 errors, 1 warning\n")
    assert out == f"{path}:1:34: warning: whitespace between messages (' '); the model never sees it, remove it [S003]\n"


def test_validate_json_format(capsys):
    code, out, err = run(capsys, "validate", "--format", "json", str(BROKEN), str(TRANSCRIPT))
    assert (code, err) == (1, "")
    assert json.loads(out) == _broken_json(str(BROKEN))
    assert out == json.dumps(_broken_json(str(BROKEN)), indent=2, ensure_ascii=False) + "\n"


def test_validate_json_format_without_problems(capsys):
    code, out, err = run(capsys, "validate", "--format", "json", str(TRANSCRIPT))
    assert (code, out, err) == (0, "[]\n", "")


def test_validate_token_ids(capsys, tmp_path, enc):
    tokens = enc.encode("<|start|>user<|message|>Hi<|end|>\n<|start|>assistant<|channel|>final<|message|>x<|call|>",
                        allowed_special="all")
    as_json = tmp_path / "tokens.json"
    as_json.write_text(json.dumps(tokens), encoding="utf-8")
    as_ints = tmp_path / "tokens.txt"
    as_ints.write_text(" ".join(map(str, tokens)) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "validate", str(as_json), str(as_ints))
    assert (code, err) == (0, "2 files: 0 errors, 4 warnings\n")
    last = len(tokens) - 1
    assert out == "".join(
        f"{path}:token 5: warning: whitespace between messages ('\\n'); the model never sees it, remove it [S003]\n"
        f"{path}:token {last}: warning: <|call|> ends a message that has no recipient [E002]\n"
        for path in (as_json, as_ints)
    )
    code, out, err = run(capsys, "validate", "--format", "json", str(as_json))
    assert json.loads(out)[1] == {"severity": "warning", "code": "E002",
                                  "message": "<|call|> ends a message that has no recipient",
                                  "token": last, "path": str(as_json)}


def test_validate_role(capsys):
    completion = "<|channel|>final<|message|>Hi<|return|><|start|>assistant<|channel|>final<|message|>x<|end|>"
    for argv, expected in (
        (("--role", "assistant"), (0, "<stdin>:1:30: warning: <|return|> ends a message that is not the last of "
                                      "this completion; a model stops sampling at <|return|> [E003]\n")),
        ((), (1, "<stdin>:1:1: error: expected <|start|> to begin a message, found <|channel|> [S001]\n")),
    ):
        sys.stdin = io.StringIO(completion)
        try:
            code, out, err = run(capsys, "validate", *argv, "-")
        finally:
            sys.stdin = sys.__stdin__
        assert (code, out) == expected


@pytest.mark.parametrize("stdin", [
    lambda data: io.StringIO(data.decode("utf-8")),
    lambda data: io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"),
])
def test_validate_stdin(capsys, monkeypatch, stdin):
    monkeypatch.setattr(sys, "stdin", stdin(BROKEN.read_bytes()))
    code, out, err = run(capsys, "validate", "-")
    assert (code, out, err) == (1, BROKEN_TEXT.format(path="<stdin>"), "1 file: 5 errors, 1 warning\n")


def test_validate_stdin_token_ids(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(COMPLETION.read_text(encoding="utf-8")))
    code, out, err = run(capsys, "validate", "--role", "assistant", "--format", "json", "-")
    assert (code, err) == (0, "")
    assert all(d["path"] == "<stdin>" and "token" in d for d in json.loads(out))


def test_validate_unreadable_file_still_checks_the_others(capsys, tmp_path):
    missing = tmp_path / "missing.txt"
    code, out, err = run(capsys, "validate", str(missing), str(BROKEN))
    assert (code, out) == (2, BROKEN_TEXT.format(path=BROKEN))
    assert err == (f"{missing}: error: cannot read file: No such file or directory\n"
                   "2 files: 5 errors, 1 warning, 1 unreadable\n")
    code, out, err = run(capsys, "validate", str(TRANSCRIPT), str(tmp_path))
    assert (code, out) == (2, "")
    assert err == f"{tmp_path}: error: cannot read file: Is a directory\n2 files: 0 errors, 0 warnings, 1 unreadable\n"


def test_validate_unreadable_json_format(capsys, tmp_path):
    missing = tmp_path / "missing.json"
    code, out, err = run(capsys, "validate", "--format", "json", str(BROKEN), str(missing))
    assert (code, err) == (2, f"{missing}: error: cannot read file: No such file or directory\n")
    assert json.loads(out) == _broken_json(str(BROKEN))


@pytest.mark.parametrize("name, data, where, message", [
    ("bad.json", b"[1, 2", ":1:6", "invalid JSON: Expecting ',' delimiter"),
    ("bad.json", b'{"tokens": [1]}', "", "expected a JSON list of token ids, found dict"),
    ("bad.json", b'["a"]', "", "token 0: expected an integer token id, found str 'a'"),
    ("bad.json", b"[4294967296]", "", "token 0: id 4294967296 is out of range (token ids are 0..4294967295)"),
    ("bad.txt", b"caf\xe9", "", "not valid UTF-8 (byte offset 3)"),
])
def test_validate_malformed_files(capsys, tmp_path, name, data, where, message):
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run(capsys, "validate", str(path))
    assert (code, out) == (2, "")
    assert err == f"{path}{where}: error: {message}\n1 file: 0 errors, 0 warnings, 1 unreadable\n"


def test_validate_deeply_nested_json(capsys, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    for command in ("validate", "parse"):
        code, out, err = run(capsys, command, str(path))
        assert (code, out) == (2, "")
        assert err.startswith(f"{path}: error: JSON is nested too deeply\n")


def test_validate_usage_errors(capsys):
    code, out, err = run(capsys, "validate")
    assert (code, out) == (2, "")
    assert err.endswith("harmony-grammar validate: error: the following arguments are required: PATH\n")
    code, out, err = run(capsys, "validate", "--format", "xml", str(TRANSCRIPT))
    assert (code, out) == (2, "")
    assert err.endswith("harmony-grammar validate: error: argument --format: invalid choice: 'xml' "
                        "(choose from 'text', 'json')\n")
    code, out, err = run(capsys, "validate", "--role", "robot", str(TRANSCRIPT))
    assert (code, out) == (2, "")
    assert "argument --role: invalid choice: 'robot'" in err


# -- parse -------------------------------------------------------------------


def _plain(messages) -> list[dict]:
    return json.loads(json.dumps([m.to_dict() for m in messages]))


def test_parse_completion_json(capsys, example):
    code, out, err = run(capsys, "parse", "--role", "assistant", str(COMPLETION))
    assert (code, err) == (0, "")
    assert json.loads(out) == _plain(example.messages[3:])
    assert out == json.dumps(_plain(example.messages[3:]), indent=2, ensure_ascii=False) + "\n"
    assert out.startswith('[\n  {\n    "role": "assistant",\n    "name": null,\n    "content": [\n')
    assert [m["role"] for m in json.loads(out)] == ["assistant", "assistant", "tool", "assistant"]


def test_parse_completion_is_the_rendered_completion(enc, example):
    tokens = enc.render_conversation_for_training(
        Conversation.from_messages(example.messages[3:]), RenderConversationConfig(auto_drop_analysis=False))
    assert tokens[:2] == [200006, 173781]  # <|start|>assistant
    assert json.loads(COMPLETION.read_text(encoding="utf-8")) == tokens[2:]


def test_parse_text_transcript(capsys, enc, example):
    code, out, err = run(capsys, "parse", str(TRANSCRIPT))
    assert (code, err) == (0, "")
    rendered = enc.render_conversation(example)  # the analysis message is dropped, as in the transcript
    assert json.loads(out) == _plain(enc.parse_messages_from_completion_tokens(rendered))
    assert [(m["role"], m.get("channel")) for m in json.loads(out)] == [
        ("system", None), ("developer", None), ("user", None), ("assistant", "commentary"),
        ("tool", "commentary"), ("assistant", "final"),
    ]


def test_parse_exact_output(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("<|start|>user<|message|>Café ☕<|end|>\n"))
    code, out, err = run(capsys, "parse")
    assert (code, err) == (0, "")
    assert out == """\
[
  {
    "role": "user",
    "name": null,
    "content": [
      {
        "type": "text",
        "text": "Café ☕"
      }
    ]
  }
]
"""


@pytest.mark.parametrize("layout", [
    json.dumps,
    lambda ids: " ".join(map(str, ids)),
    lambda ids: "\n".join(map(str, ids)) + "\n",
])
def test_parse_token_id_layouts_on_stdin(capsys, monkeypatch, example, layout):
    tokens = json.loads(COMPLETION.read_text(encoding="utf-8"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(layout(tokens)))
    code, out, err = run(capsys, "parse", "-", "--role", "assistant")
    assert (code, err) == (0, "")
    assert json.loads(out) == _plain(example.messages[3:])


def test_parse_role_changes_the_first_message(capsys, tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("<|channel|>final<|message|>Hi<|return|>", encoding="utf-8")
    code, out, err = run(capsys, "parse", str(path), "--role", "assistant")
    assert (code, err) == (0, "")
    assert json.loads(out) == [{"role": "assistant", "name": None, "content": [{"type": "text", "text": "Hi"}],
                                "channel": "final"}]
    code, out, err = run(capsys, "parse", str(path))
    assert (code, out) == (1, "")
    assert err == (f"{path}: error: token 0: expected <|start|>, found <|channel|> (id 200005) — "
                   "a message must begin with <|start|>\n")


def test_parse_lenient(capsys, tmp_path):
    path = tmp_path / "cut.txt"
    path.write_text("<|channel|>final<|end|>", encoding="utf-8")
    code, out, err = run(capsys, "parse", "--role", "assistant", str(path))
    assert (code, out) == (1, "")
    assert err == (f"{path}: error: token 3: expected <|message|>, found the end of the input "
                   "(Unexpected EOS while waiting for message header to complete)\n")
    code, out, err = run(capsys, "parse", "--role", "assistant", "--lenient", str(path))
    assert (code, err) == (0, "")
    assert json.loads(out) == [{"role": "assistant", "name": None, "content": [{"type": "text", "text": ""}],
                                "channel": "final"}]


def test_parse_error_exit(capsys):
    code, out, err = run(capsys, "parse", str(BROKEN))
    assert (code, out) == (1, "")
    assert err == (f"{BROKEN}: error: token 92: expected <|start|>, found text (id 198) — "
                   "a message must begin with <|start|>\n")


@pytest.mark.parametrize("name, data, where, message", [
    ("bad.json", b"[1,", ":1:4", "invalid JSON: Expecting value"),
    ("bad.json", b'{"a": 1}', "", "expected a JSON list of token ids, found an object"),
    ("bad.json", b"[1.5]", "", "token 0: expected an integer token id, found float 1.5"),
    ("bad.txt", b"[-1]", "", "token 0: id -1 is out of range (token ids are 0..4294967295)"),
    ("bad.txt", b"\xff", "", "not valid UTF-8 (byte offset 0)"),
])
def test_parse_malformed_input(capsys, tmp_path, name, data, where, message):
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run(capsys, "parse", str(path))
    assert (code, out, err) == (2, "", f"{path}{where}: error: {message}\n")


def test_parse_missing_file(capsys, tmp_path):
    path = tmp_path / "nope.json"
    code, out, err = run(capsys, "parse", str(path))
    assert (code, out, err) == (2, "", f"{path}: error: cannot read file: No such file or directory\n")


def test_parse_text_that_looks_like_a_list(capsys, tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("[1] is a footnote<|end|>", encoding="utf-8")
    code, out, err = run(capsys, "parse", "--role", "user", "--lenient", str(path))
    assert (code, err) == (0, "")
    assert json.loads(out) == [{"role": "user", "name": None, "content": [{"type": "text", "text": "[1] is a footnote"}]}]


# -- templates ---------------------------------------------------------------


def test_templates_export(capsys, tmp_path):
    from harmony_grammar.format.templating import template_files

    target = tmp_path / "new" / "templates"
    files = template_files()
    code, out, err = run(capsys, "templates", "export", str(target))
    assert (code, err) == (0, "")
    assert out == "".join(f"{target / name}\n" for name in files)
    written = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert written == sorted(files) == [
        "developer.jinja", "dialect.json", "format.json", "header.jinja", "next_turn.jinja",
        "response_formats.jinja", "system.jinja", "tools.jinja", "typescript.jinja",
    ]
    for name, source in files.items():
        assert (target / name).read_bytes() == source.read_bytes()


def test_templates_export_is_usable_as_template_dir(capsys, tmp_path, enc, example):
    from harmony_grammar import load_harmony_encoding

    code, _, _ = run(capsys, "templates", "export", str(tmp_path))
    assert code == 0
    custom = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    assert custom.render_conversation(example) == enc.render_conversation(example)


def test_templates_export_refuses_to_overwrite(capsys, tmp_path):
    (tmp_path / "system.jinja").write_text("mine", encoding="utf-8")
    (tmp_path / "tools.jinja").write_text("mine too", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("unrelated", encoding="utf-8")
    code, out, err = run(capsys, "templates", "export", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == f"{tmp_path}: error: would overwrite system.jinja, tools.jinja (use --force to replace them)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "system.jinja", "tools.jinja"]
    assert (tmp_path / "system.jinja").read_text(encoding="utf-8") == "mine"
    code, out, err = run(capsys, "templates", "export", "--force", str(tmp_path))
    assert (code, err) == (0, "")
    assert out.count("\n") == 9
    from harmony_grammar.format.templating import template_files
    assert (tmp_path / "system.jinja").read_bytes() == template_files()["system.jinja"].read_bytes()
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "unrelated"


def test_templates_export_into_a_file(capsys, tmp_path):
    path = tmp_path / "file"
    path.write_text("x", encoding="utf-8")
    code, out, err = run(capsys, "templates", "export", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"{path}: error: cannot write: ") and err.count("\n") == 1


def test_templates_list(capsys):
    code, out, err = run(capsys, "templates", "list")
    assert (code, err) == (0, "")
    assert out == """\
developer.jinja         The body of a developer message
dialect.json            Settings of the oss-harmony dialect, which matches oss-harmony 0.0.11 (PyPI), module openai_harmony
format.json             Rendering rules that are facts of the format rather than prose
header.jinja            The message header layout: everything from <|start|> to <|message|>, and the token that ends the message
next_turn.jinja         What render_conversation_for_completion appends: the start of the next turn
response_formats.jinja  The "# Response Formats" section (structured output) at the end of a developer message
system.jinja            The body of a system message
tools.jinja             The "# Tools" section: one "## NAME" block per tool namespace, in key order
typescript.jinja        JSON Schema -> the TypeScript-like declarations of tool parameters
"""


def test_templates_needs_an_action(capsys):
    code, out, err = run(capsys, "templates")
    assert (code, out) == (2, "")
    assert err.endswith("harmony-grammar templates: error: the following arguments are required: ACTION\n")
    code, out, err = run(capsys, "templates", "export")
    assert (code, out) == (2, "")
    assert err.endswith("harmony-grammar templates export: error: the following arguments are required: DIR\n")


def test_templates_help_has_examples(capsys):
    for action in ("export", "list"):
        code, out, _ = run(capsys, "templates", action, "--help")
        assert code == 0
        assert out.startswith(f"usage: harmony-grammar templates {action} ")
        assert "\n  harmony-grammar templates export my-templates\n" in out


# -- the README's command examples ---------------------------------------------


# A one-line ```sh block with a harmony-grammar command, a paragraph, then a ```text or ```json block: what it prints.
README_COMMAND = re.compile(
    r"```sh\n(harmony-grammar [^\n]*)\n```\n\n((?:(?!```).)*?)\n\n```(?:text|json)\n(.*?)```\n", re.S)


def test_readme_commands_print_what_it_says(capsys, monkeypatch):
    import shlex

    text = README.read_text(encoding="utf-8")
    # render-dataset needs the files the README's Python blocks write: tests/test_readme.py runs it.
    examples = [e for e in README_COMMAND.findall(text) if not e[0].startswith("harmony-grammar render-dataset")]
    commands = [command for command, _, _ in examples]
    assert commands == [
        "harmony-grammar validate examples/transcript.txt examples/broken.txt",
        "harmony-grammar validate --format json examples/transcript.txt",
        "harmony-grammar parse --role assistant examples/completion.json",
    ]
    monkeypatch.chdir(ROOT)
    for command, said, printed in examples:
        code, out, err = run(capsys, *shlex.split(command)[1:])
        assert out + err == printed, command
        status = re.search(r"exit status (\d)", said)
        assert code == (int(status.group(1)) if status else 0), command
    begins = re.search(r"and for `examples/broken.txt` a list that begins\n\n```json\n(.*?)```\n", text, re.S)
    code, out, err = run(capsys, "validate", "--format", "json", "examples/broken.txt")
    assert code == 1 and out.startswith(begins.group(1))


def test_readme_transcript_command(capsys, monkeypatch):
    """The README's render command (with its redirection) makes examples/transcript.txt."""
    command = "harmony-grammar render --mode conversation examples/conversation.json > examples/transcript.txt"
    assert f"```sh\n{command}\n```" in README.read_text(encoding="utf-8")
    monkeypatch.chdir(ROOT)
    code, out, err = run(capsys, "render", "--mode", "conversation", "examples/conversation.json")
    assert (code, err) == (0, "")
    assert out == (EXAMPLES / "transcript.txt").read_text(encoding="utf-8")


def test_readme_lists_every_diagnostic_code():
    from harmony_grammar.resources import load_json

    def cell(title: str) -> str:  # special tokens as code, their pipes escaped for the Markdown table
        return re.sub(r"<\|[a-z_]+\|>", lambda m: "`" + m.group().replace("|", "\\|") + "`", title)

    text = README.read_text(encoding="utf-8")
    rows = "".join(f"| `{code}` | {spec['severity']} | {cell(spec['title'])} |\n"
                   for code, spec in load_json("grammar", "checks.json")["diagnostics"].items())
    assert "| Code | Severity | Problem |\n|---|---|---|\n" + rows in text


# -- dialects and template folders ----------------------------------------------


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
    assert code == 0 and out.splitlines()[3] == str(tmp_path / "t" / "header.jinja")
    system = tmp_path / "t" / "system.jinja"
    system.write_text(system.read_text(encoding="utf-8").replace('"Current date: "', '"Today: "'), encoding="utf-8")
    code, out, err = run(capsys, "render", "--templates", str(tmp_path / "t"), "--color", "never")
    assert code == 0
    assert out.splitlines()[:3] == ["<|start|>system<|message|>You are ChatGPT, a large language model trained by "
                                    "OpenAI.", "Knowledge cutoff: 2024-06", "Today: 2025-06-28"]


def test_a_broken_template_folder_is_an_input_error(capsys, tmp_path):
    (tmp_path / "developer.jinja").write_text("{% if %}", encoding="utf-8")
    code, out, err = run(capsys, "render", "--templates", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (f"{BUILTIN}: error: {tmp_path / 'developer.jinja'}:1: template syntax error: "
                   "Expected an expression, got 'end of statement block'\n")
    code, out, err = run(capsys, "render", "--templates", str(tmp_path / "missing"))
    assert (code, out) == (2, "")
    assert err == f"{tmp_path / 'missing'}: error: template folder {tmp_path / 'missing'} does not exist or is not a folder\n"


def test_readme_customizing_example_is_real(capsys, tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    steps = re.search(r"### Customizing prompts.*?```sh\n(.*?)```\n\nprints\n\n```text\n(.*?)```", text, re.S)
    commands, printed = steps.group(1).splitlines(), steps.group(2)
    assert commands[0] == "harmony-grammar templates export my-templates"
    edit = re.fullmatch(r"sed -i 's/(.*)/(.*)/' my-templates/system.jinja", commands[1])
    assert commands[2] == "harmony-grammar render --templates my-templates --mode conversation | head -4"
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "templates", "export", "my-templates")[0] == 0
    system = tmp_path / "my-templates" / "system.jinja"
    system.write_text(system.read_text(encoding="utf-8").replace(edit.group(1), edit.group(2)), encoding="utf-8")
    code, out, err = run(capsys, "render", "--templates", "my-templates", "--mode", "conversation", "--color", "never")
    assert code == 0
    assert "".join(line + "\n" for line in out.split("\n")[:4]) == printed
