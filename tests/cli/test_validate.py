"""``harmony-grammar validate``: every problem reported, text and JSON formats, token ids, exit statuses."""

from __future__ import annotations

import io
import json
import re
import sys

import pytest

from cli_helpers import BROKEN, COMPLETION, README, TRANSCRIPT, run


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


def test_readme_lists_every_diagnostic_code():
    from harmony_grammar.resources import load_json

    def cell(title: str) -> str:  # special tokens as code, their pipes escaped for the Markdown table
        return re.sub(r"<\|[a-z_]+\|>", lambda m: "`" + m.group().replace("|", "\\|") + "`", title)

    text = README.read_text(encoding="utf-8")
    rows = "".join(f"| `{code}` | {spec['severity']} | {cell(spec['title'])} |\n"
                   for code, spec in load_json("grammar", "checks.json")["diagnostics"].items())
    assert "| Code | Severity | Problem |\n|---|---|---|\n" + rows in text
