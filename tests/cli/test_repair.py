"""``harmony-grammar repair``: recovered model output written again canonically, in the form it came in."""

from __future__ import annotations

import io
import json
import os
import sys

import pytest

from cli_helpers import BROKEN, COMPLETION, run
from harmony_grammar.resources import load_json

EXAMPLES = load_json("grammar", "recovery.json")["examples"]

# The README's example: a call ending the analysis, and the call's header without <|start|>assistant.
CALL_THEN_HEADER = ("<|channel|>analysis<|message|>think<|call|>commentary to=functions.get_weather "
                    '<|constrain|>json<|message|>{"city":"Paris"}<|call|>')
REPAIRED = ("<|channel|>analysis<|message|>think<|end|><|start|>assistant<|channel|>commentary "
            'to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>')
R001 = "warning: stop token <|return|> where <|start|> is due: dropped [R001]"
R002 = "warning: a header without <|start|>assistant before it: read as a new assistant message [R002]"
# <|channel|>final<|message|>Hi<|end|><|return|>
STOP_AFTER_END_IDS = [200005, 17196, 200008, 12194, 200007, 200002]


def _write(tmp_path, name: str, data: str):
    path = tmp_path / name
    path.write_text(data, encoding="utf-8")
    return path


def _forms(enc, text: str) -> list[tuple[str, str]]:
    ids = enc.encode(text, allowed_special="all")
    return [("in.txt", text), ("in.json", json.dumps(ids)), ("in.ids", " ".join(map(str, ids)))]


# -- the three forms -----------------------------------------------------------


def test_repair_text(capsys, tmp_path):
    path = _write(tmp_path, "c.txt", CALL_THEN_HEADER)
    code, out, err = run(capsys, "repair", "--role", "assistant", str(path))
    assert (code, out) == (0, REPAIRED + "\n")
    assert err == f"{path}:token 5: {R002}\n2 messages, 1 repair, 0 tokens dropped\n"


def test_repair_text_without_role_is_a_transcript(capsys, tmp_path):
    path = _write(tmp_path, "c.txt", CALL_THEN_HEADER + "\n")
    code, out, err = run(capsys, "repair", str(path))
    assert (code, out) == (0, "<|start|>assistant" + REPAIRED + "\n")
    assert err == f"{path}:token 0: {R002}\n{path}:token 5: {R002}\n2 messages, 2 repairs, 0 tokens dropped\n"


def test_repair_json_ids(capsys, tmp_path):
    path = _write(tmp_path, "c.json", json.dumps(STOP_AFTER_END_IDS))
    code, out, err = run(capsys, "repair", "--role", "assistant", str(path))
    # The last final answer ends with <|return|> (200002), and the stray one is gone.
    assert (code, out) == (0, "[200005, 17196, 200008, 12194, 200002]\n")
    assert err == f"{path}:token 5: {R001}\n1 message, 1 repair, 1 token dropped\n"
    code, out, err = run(capsys, "repair", str(path))
    assert (code, out) == (0, "[200006, 173781, 200005, 17196, 200008, 12194, 200002]\n")
    assert err == f"{path}:token 0: {R002}\n{path}:token 5: {R001}\n1 message, 2 repairs, 1 token dropped\n"


@pytest.mark.parametrize("layout", [" ".join, "\n".join])
def test_repair_whitespace_ids_on_stdin(capsys, monkeypatch, layout):
    monkeypatch.setattr(sys, "stdin", io.StringIO(layout(map(str, STOP_AFTER_END_IDS)) + "\n"))
    code, out, err = run(capsys, "repair", "--role", "assistant")
    assert (code, out) == (0, "200005 17196 200008 12194 200002\n")
    assert err == f"<stdin>:token 5: {R001}\n1 message, 1 repair, 1 token dropped\n"


def test_repair_a_transcript(capsys):
    """examples/broken.txt: the stray newline and text are dropped, the header cut short gets its <|message|>,
    and the mid-conversation <|return|> becomes <|end|>."""
    code, out, err = run(capsys, "repair", str(BROKEN))
    assert code == 0
    broken = BROKEN.read_text(encoding="utf-8")
    tool = "<|start|>functions.get_current_weather"
    assert out == (broken.replace("<|end|>\n<|start|>user", "<|end|><|start|>user")
                   .replace(f"{tool} to=assistant<|channel|>commentary<|end|>",
                            f"{tool}<|channel|>commentary to=assistant<|message|><|end|>")
                   .replace("Sunny, 20 degrees.<|return|>", "Sunny, 20 degrees.<|end|>")
                   .replace("<|end|>Bye.\n", "<|end|>\n"))
    assert err == (
        f"{BROKEN}:token 92: warning: '\\n' begins no message (no <|message|> follows before <|start|>): "
        "dropped [R003]\n"
        f"{BROKEN}:token 140: warning: stop token <|end|> inside the header, before <|message|>: "
        "the message has empty content [R009]\n"
        f"{BROKEN}:token 170: warning: 'Bye.' begins no message (no <|message|> follows before the end of the input): "
        "dropped [R003]\n"
        "8 messages, 3 repairs, 3 tokens dropped\n")


def test_repair_well_formed_output_changes_nothing(capsys):
    code, out, err = run(capsys, "repair", "--role", "assistant", str(COMPLETION))
    assert (code, err) == (0, "4 messages, 0 repairs, 0 tokens dropped\n")
    assert out == json.dumps(json.loads(COMPLETION.read_text(encoding="utf-8"))) + "\n"


def test_repair_empty_input(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, out, err = run(capsys, "repair", "-")
    assert (code, out, err) == (0, "\n", "0 messages, 0 repairs, 0 tokens dropped\n")


# -- repaired output -----------------------------------------------------------


def _repair(capsys, tmp_path, name: str, data: str, *role: str) -> tuple[str, str]:
    path = _write(tmp_path, name, data)
    code, out, err = run(capsys, "repair", *role, str(path))
    assert code == 0
    return out, err


@pytest.mark.parametrize("role", [("--role", "assistant"), ()], ids=["role", "no-role"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["codes"][0])
def test_repairing_repaired_output_changes_nothing(capsys, tmp_path, enc, example, role):
    for name, data in _forms(enc, example["wrote"]):
        once, _ = _repair(capsys, tmp_path, name, data, *role)
        twice, err = _repair(capsys, tmp_path, name, once, *role)
        assert twice == once
        count = len(json.loads(run(capsys, "parse", "--recover", *role, str(tmp_path / name))[1])["messages"])
        messages = f"{count} message{'' if count == 1 else 's'}"
        if example["codes"] == ["R008"]:
            # A content type with no recipient renders as `final <|constrain|>response`, which the strict
            # rules read as a recipient; recovery reads it as the content type again, and says so.
            assert err == (f"{tmp_path / name}:token 0: warning: '<|constrain|>response' is a content type, "
                           f"not a recipient [R008]\n{messages}, 1 repair, 0 tokens dropped\n")
        else:
            assert err == f"{messages}, 0 repairs, 0 tokens dropped\n"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["codes"][0])
def test_strict_parse_accepts_a_repaired_completion(capsys, tmp_path, enc, example):
    for name, data in _forms(enc, example["wrote"]):
        _write(tmp_path, name, data)
        code, recovered, _ = run(capsys, "parse", "--role", "assistant", "--recover", str(tmp_path / name))
        assert code == 0
        repaired, _ = _repair(capsys, tmp_path, name, data, "--role", "assistant")
        path = _write(tmp_path, "repaired" + name[2:], repaired)
        code, out, err = run(capsys, "parse", "--role", "assistant", str(path))
        assert (code, err) == (0, "")
        expected = json.loads(recovered)["messages"]
        if example["codes"] == ["R008"]:  # the strict rules read the lone content type as the recipient
            expected[0]["recipient"] = expected[0].pop("content_type")
        assert json.loads(out) == expected


# -- -o ------------------------------------------------------------------------


def test_repair_writes_the_output_file(capsys, tmp_path):
    source = _write(tmp_path, "c.txt", CALL_THEN_HEADER)
    target = tmp_path / "fixed.txt"
    code, out, err = run(capsys, "repair", str(source), "--role", "assistant", "-o", str(target))
    assert (code, out) == (0, "")
    assert err == f"{source}:token 5: {R002}\n2 messages, 1 repair, 0 tokens dropped\n"
    assert target.read_text(encoding="utf-8") == REPAIRED + "\n"
    assert sorted(os.listdir(tmp_path)) == ["c.txt", "fixed.txt"]  # no temporary file left behind


def test_repair_in_place_keeps_the_file_mode(capsys, tmp_path):
    path = _write(tmp_path, "c.json", json.dumps(STOP_AFTER_END_IDS))
    os.chmod(path, 0o640)
    code, out, err = run(capsys, "repair", "--role", "assistant", str(path), "--output", str(path))
    assert (code, out) == (0, "")
    assert err == f"{path}:token 5: {R001}\n1 message, 1 repair, 1 token dropped\n"
    assert path.read_text(encoding="utf-8") == "[200005, 17196, 200008, 12194, 200002]\n"
    if os.name == "posix":
        assert os.stat(path).st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["c.json"]


def test_repair_dash_o_is_stdout(capsys, tmp_path):
    path = _write(tmp_path, "c.txt", CALL_THEN_HEADER)
    code, out, _ = run(capsys, "repair", "--role", "assistant", "-o", "-", str(path))
    assert (code, out) == (0, REPAIRED + "\n")


def test_repair_cannot_write(capsys, tmp_path):
    source = _write(tmp_path, "c.txt", CALL_THEN_HEADER)
    target = tmp_path / "missing" / "fixed.txt"
    code, out, err = run(capsys, "repair", str(source), "-o", str(target))
    assert (code, out, err) == (2, "", f"{target}: error: cannot write file: No such file or directory\n")


# -- errors ----------------------------------------------------------------------


def test_repair_a_tool_message_without_a_name(capsys, tmp_path):
    """After <|start|>tool the message has no tool name, and the format renders no such message."""
    path = _write(tmp_path, "c.txt", "<|channel|>commentary<|message|>20 degrees<|end|>")
    code, out, err = run(capsys, "repair", "--role", "tool", str(path))
    assert (code, out) == (1, "")
    assert err == ("1 message, 0 repairs, 0 tokens dropped\n"
                   f"{path}: error: the recovered messages cannot be rendered: Tools should have a name!\n")


def test_repair_bad_input(capsys, tmp_path):
    path = _write(tmp_path, "bad.json", "[1,")
    code, out, err = run(capsys, "repair", str(path))
    assert (code, out, err) == (2, "", f"{path}:1:4: error: invalid JSON: Expecting value\n")
    missing = tmp_path / "nope.txt"
    code, out, err = run(capsys, "repair", str(missing))
    assert (code, out, err) == (2, "", f"{missing}: error: cannot read file: No such file or directory\n")


def test_repair_usage_errors(capsys, tmp_path):
    code, out, err = run(capsys, "repair", "--role", "robot", str(COMPLETION))
    assert (code, out) == (2, "")
    assert err.startswith("usage: harmony-grammar repair ")
    assert err.endswith("harmony-grammar repair: error: argument --role: invalid choice: 'robot' "
                        "(choose from 'user', 'assistant', 'system', 'developer', 'tool')\n")
    code, out, err = run(capsys, "repair", str(COMPLETION), str(COMPLETION))
    assert (code, out) == (2, "")
    assert err == ("usage: harmony-grammar [-h] [--version] COMMAND ...\n"
                   f"harmony-grammar: error: unrecognized arguments: {COMPLETION}\n")
    code, out, err = run(capsys, "repair", "--lenient", str(COMPLETION))
    assert (code, out) == (2, "")
    assert err.endswith("harmony-grammar: error: unrecognized arguments: --lenient\n")
