"""``harmony-grammar grammar``: a conversation's completion grammar, checking completions, bad input."""

from __future__ import annotations

import io
import json
import sys

import pytest

from cli_helpers import COMPLETION, EXAMPLES, run
from harmony_grammar import Conversation, Message, Role, SystemContent, load_harmony_encoding
from harmony_grammar.cli.grammar import token_label
from harmony_grammar.engine import constrain

CONVERSATION = EXAMPLES / "conversation.json"
CALL = ('<|channel|>commentary to=functions.get_current_weather <|constrain|>json<|message|>'
        '{"location":"San Francisco, CA"}<|call|>')
# What the first refusals show after the header of a final answer: <|return|>, then the lowest ids.
AFTER_TEXT = "<|return|>, '!', '\"', '#', '$', '%', '&', \"'\", '(', ')' and 199668 more"


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- printing the grammar ----------------------------------------------------


def test_prints_the_grammar_of_the_built_in_example(capsys, enc, example):
    code, out, err = run(capsys, "grammar")
    assert (code, err) == (0, "")
    assert out == enc.completion_grammar(example).text + "\n"
    assert out.startswith('%llguidance {}\n\nstart: (preamble <|start|> "assistant")* ending\nending: final | call\n')
    assert " to=functions.get_current_weather" in out


def test_reads_a_file_or_stdin(capsys, monkeypatch, enc, example):
    expected = enc.completion_grammar(example).text + "\n"
    assert run(capsys, "grammar", str(CONVERSATION)) == (0, expected, "")
    monkeypatch.setattr(sys, "stdin", io.StringIO(CONVERSATION.read_text(encoding="utf-8")))
    assert run(capsys, "grammar", "-") == (0, expected, "")


@pytest.mark.parametrize("argument, tool_choice, ending", [
    ("auto", "auto", "ending: final | call\n"),
    ("none", "none", "ending: final\n"),
    ("required", "required", "ending: call\n"),
    ("get_current_weather", {"name": "get_current_weather"}, "ending: call\n"),
    ("functions.get_current_weather", {"name": "get_current_weather"}, "ending: call\n"),
])
def test_tool_choice(capsys, enc, example, argument, tool_choice, ending):
    code, out, err = run(capsys, "grammar", "--tool-choice", argument)
    assert (code, err) == (0, "")
    assert out == enc.completion_grammar(example, tool_choice=tool_choice).text + "\n"
    assert out.splitlines(keepends=True)[3] == ending
    assert ("to=functions.get_current_weather" in out) == (argument != "none")


def test_a_named_builtin_tool(capsys, enc, tmp_path):
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, SystemContent.new().with_browser_tool()),
        Message.from_role_and_content(Role.USER, "Search."),
    ])
    path = write(tmp_path, "browser.json", convo.to_json())
    code, out, err = run(capsys, "grammar", str(path), "--tool-choice", "browser.search")
    assert (code, err) == (0, "")
    assert out == enc.completion_grammar(convo, tool_choice={"name": "browser.search"}).text + "\n"
    assert "call: call_1\n" in out and '" to=browser.search"' in out and "browser.open" not in out


def test_dialect(capsys, example):
    code, out, err = run(capsys, "grammar", "--dialect", "openai-harmony", "--tool-choice", "required")
    assert (code, err) == (0, "")
    other = load_harmony_encoding("HarmonyGptOss", dialect="openai-harmony")
    assert out == other.completion_grammar(example, tool_choice="required").text + "\n"


def test_templates_override_the_constraint(capsys, tmp_path, enc, example):
    folder = tmp_path / "templates"
    assert run(capsys, "templates", "export", str(folder))[0] == 0
    facts = json.loads((folder / "constraint.json").read_text(encoding="utf-8"))
    facts["json_options"] = {"whitespace_pattern": "[ ]{0,2}"}
    (folder / "constraint.json").write_text(json.dumps(facts), encoding="utf-8")
    code, out, err = run(capsys, "grammar", "--templates", str(folder))
    assert (code, err) == (0, "")
    assert '"x-guidance":{"whitespace_pattern":"[ ]{0,2}"}' in out
    assert out == load_harmony_encoding("HarmonyGptOss", template_dir=folder).completion_grammar(example).text + "\n"
    assert out != enc.completion_grammar(example).text + "\n"


# -- --check -----------------------------------------------------------------


@pytest.mark.parametrize("text", [
    CALL,
    "<|channel|>final<|message|>Sunny.<|return|>",
    "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>Sunny.<|return|>\n",
    "<|channel|>commentary<|message|>Looking it up.<|end|><|start|>assistant" + CALL,
])
def test_check_accepted(capsys, tmp_path, text):
    path = write(tmp_path, "c.txt", text)
    assert run(capsys, "grammar", "--check", str(path)) == (0, "accepted\n", "")


def test_check_token_ids_and_stdin(capsys, monkeypatch, enc, tmp_path):
    ids = enc.encode(CALL, allowed_special="all")
    path = write(tmp_path, "c.json", json.dumps(ids))
    assert run(capsys, "grammar", "--check", str(path), "--tool-choice", "required") == (0, "accepted\n", "")
    monkeypatch.setattr(sys, "stdin", io.StringIO(" ".join(map(str, ids))))
    assert run(capsys, "grammar", "--check", "-", "--tool-choice", "get_current_weather") == (0, "accepted\n", "")


@pytest.mark.parametrize("tool_choice, text, line", [
    ("auto", "<|channel|>final<|message|>Sunny.<|end|>",
     f"refused at token 5 (<|end|>): allowed here: {AFTER_TEXT}"),
    ("auto", "<|channel|>final<|message|>Sunny.",
     f"refused at token 5 (the end of the input): allowed here: {AFTER_TEXT}"),
    ("auto", "<|channel|>final<|message|>Sunny.<|return|> More.",
     "refused at token 6 (' More'): allowed here: nothing, the completion ended at token 5"),
    ("none", CALL, "refused at token 3 (' to'): allowed here: <|message|>"),
    ("required", "<|channel|>final<|message|>Sunny.<|return|>",
     "refused at token 1 ('final'): allowed here: 'a', 'c', 'an', 'com', 'co', 'ana', 'comm', 'comment', "
     "'anal', 'analysis' and 1 more"),
    ("auto", "<|start|>assistant<|channel|>final<|message|>Sunny.<|return|>",
     "refused at token 0 (<|start|>): allowed here: <|channel|>, ' ', ' t', ' to'"),
    ("auto", '<|channel|>commentary to=functions.get_current_weather <|constrain|>json<|message|>{"city"',
     "refused at token 14 ('city'): allowed here: 'location'"),  # the required property comes first
])
def test_check_refused(capsys, tmp_path, tool_choice, text, line):
    path = write(tmp_path, "c.txt", text)
    assert run(capsys, "grammar", "--check", str(path), "--tool-choice", tool_choice) == (1, line + "\n", "")


def test_check_a_transcript_with_a_tool_result(capsys):
    # examples/completion.json goes on past the call, into the tool's reply: no completion does.
    code, out, err = run(capsys, "grammar", "--check", str(COMPLETION))
    assert (code, out, err) == (1, "refused at token 46 (<|start|>): allowed here: nothing, "
                                   "the completion ended at token 45\n", "")


def test_check_shows_bytes_that_are_not_utf8_alone(capsys, enc, tmp_path):
    ids = enc.encode("<|channel|>commentary", allowed_special="all") + enc.encode("☕")
    assert [enc.decode_bytes([t]) for t in ids[-2:]] == [b"\xe2\x98", b"\x95"]
    path = write(tmp_path, "c.json", json.dumps(ids))
    code, out, err = run(capsys, "grammar", "--check", str(path), "--tool-choice", "none")
    assert (code, out, err) == (1, "refused at token 3 (b'\\xe2\\x98'): allowed here: <|message|>\n", "")
    assert token_label(enc, 200005) == "<|channel|>"
    assert token_label(enc, 12194) == "'Hi'"


# -- errors ------------------------------------------------------------------


def test_a_tool_choice_that_is_not_declared(capsys):
    code, out, err = run(capsys, "grammar", "--tool-choice", "get_weather")
    assert (code, out) == (2, "")
    assert err == ("<built-in example>: error: tool_choice: no declared tool named 'get_weather' "
                   "(declared: get_current_weather)\n")


def test_required_without_tools(capsys, tmp_path):
    convo = Conversation.from_messages([Message.from_role_and_content(Role.USER, "Hi")])
    path = write(tmp_path, "u.json", convo.to_json())
    code, out, err = run(capsys, "grammar", str(path), "--tool-choice", "required")
    assert (code, out, err) == (2, "", f"{path}: error: tool_choice: 'required' but the conversation declares no "
                                       "tools\n")


@pytest.mark.parametrize("name, data, where, message", [
    ("bad.json", b"[1,", ":1:4", "invalid JSON: Expecting value"),
    ("bad.json", b'{"a": 1}', "", "expected a JSON list of token ids, found an object"),
    ("bad.txt", b"\xff", "", "not valid UTF-8 (byte offset 0)"),
    ("bad.txt", b"[300000]", "", "Invalid token for decoding: 300000 (token 0; the vocabulary has ids 0..201088)"),
])
def test_check_malformed_input(capsys, tmp_path, name, data, where, message):
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run(capsys, "grammar", "--check", str(path))
    assert (code, out, err) == (2, "", f"{path}{where}: error: {message}\n")


def test_missing_files(capsys, tmp_path):
    path = tmp_path / "nope.json"
    missing = f"{path}: error: cannot read file: No such file or directory\n"
    assert run(capsys, "grammar", str(path)) == (2, "", missing)
    assert run(capsys, "grammar", "--check", str(path)) == (2, "", missing)


def test_a_bad_conversation(capsys, tmp_path):
    path = write(tmp_path, "c.json", '{"messages": [{"role": "robot", "content": []}]}')
    code, out, err = run(capsys, "grammar", str(path))
    assert (code, out) == (2, "")
    assert err == (f"{path}: error: messages[0].role: unknown role 'robot' "
                   "(expected one of 'user', 'assistant', 'system', 'developer', 'tool')\n")


def test_without_llguidance(capsys, monkeypatch, tmp_path, enc, example):
    monkeypatch.setitem(sys.modules, "llguidance", None)  # import llguidance raises ImportError
    monkeypatch.setattr(constrain, "_tokenizers", {})
    assert run(capsys, "grammar") == (0, enc.completion_grammar(example).text + "\n", "")  # the text needs nothing
    path = write(tmp_path, "c.txt", CALL)
    assert run(capsys, "grammar", "--check", str(path)) == (
        2, "", "harmony-grammar: error: constrained decoding needs llguidance: "
               "pip install 'harmony-grammar[constrain]'\n")
