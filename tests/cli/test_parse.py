"""``harmony-grammar parse``: token ids and transcripts into messages, exact JSON output, bad input."""

from __future__ import annotations

import io
import json
import sys

import pytest

from cli_helpers import BROKEN, COMPLETION, TRANSCRIPT, run
from harmony_grammar import Conversation, RenderConversationConfig


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
