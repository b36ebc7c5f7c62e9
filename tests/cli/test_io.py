"""The helpers the commands share: colour, reading a conversation, and the encoding options."""

from __future__ import annotations

import io
import json
import re
import sys

from cli_helpers import run
from example_render import EXPECTED_RENDER
from harmony_grammar.cli.io import BUILTIN, use_color


ANSI = re.compile(r"\x1b\[[0-9;]*m")


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


# -- reading a conversation --------------------------------------------------


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


def test_deeply_nested_input(capsys, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    code, out, err = run(capsys, "render", str(path))
    assert (code, out, err) == (2, "", f"{path}: error: conversation JSON is nested too deeply\n")


# -- the encoding options ----------------------------------------------------


def test_a_broken_template_folder_is_an_input_error(capsys, tmp_path):
    (tmp_path / "developer.jinja").write_text("{% if %}", encoding="utf-8")
    code, out, err = run(capsys, "render", "--templates", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (f"{BUILTIN}: error: {tmp_path / 'developer.jinja'}:1: template syntax error: "
                   "Expected an expression, got 'end of statement block'\n")
    code, out, err = run(capsys, "render", "--templates", str(tmp_path / "missing"))
    assert (code, out) == (2, "")
    assert err == f"{tmp_path / 'missing'}: error: template folder {tmp_path / 'missing'} does not exist or is not a folder\n"
