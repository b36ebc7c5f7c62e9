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
    assert err == (f"{path}: error: Unexpected token 200005 while expecting start token 200006 "
                   "(token 0: expected <|start|>, found <|channel|>)\n")


def test_parse_lenient(capsys, tmp_path):
    path = tmp_path / "cut.txt"
    path.write_text("<|channel|>final<|end|>", encoding="utf-8")
    code, out, err = run(capsys, "parse", "--role", "assistant", str(path))
    assert (code, out) == (1, "")
    assert err == (f"{path}: error: Unexpected EOS while waiting for message header to complete "
                   "(token 3: expected <|message|>, found the end of the input)\n")
    code, out, err = run(capsys, "parse", "--role", "assistant", "--lenient", str(path))
    assert (code, err) == (0, "")
    assert json.loads(out) == [{"role": "assistant", "name": None, "content": [{"type": "text", "text": ""}],
                                "channel": "final"}]


def test_parse_error_exit(capsys):
    code, out, err = run(capsys, "parse", str(BROKEN))
    assert (code, out) == (1, "")
    assert err == (f"{BROKEN}: error: Unexpected token 198 while expecting start token 200006 "
                   "(token 92: expected <|start|>, found text)\n")


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


# -- --recover ---------------------------------------------------------------


def _recovery_examples() -> list[dict]:
    from harmony_grammar.resources import load_json

    return load_json("grammar", "recovery.json")["examples"]


def _brief(message: dict) -> dict:
    """A message as recovery.json's examples write it: the text as ``content``, no ``name``."""
    out = {k: v for k, v in message.items() if k not in ("name", "content")}
    out["content"] = "".join(part["text"] for part in message["content"])
    return out


def test_parse_recover_a_stop_token_after_end(capsys, tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("<|channel|>final<|message|>Hi<|end|><|return|>\n", encoding="utf-8")
    code, out, err = run(capsys, "parse", "--recover", "--role", "assistant", str(path))
    assert code == 0
    assert out == """\
{
  "messages": [
    {
      "role": "assistant",
      "name": null,
      "content": [
        {
          "type": "text",
          "text": "Hi"
        }
      ],
      "channel": "final"
    }
  ],
  "spans": [
    [
      0,
      5
    ]
  ],
  "diagnostics": [
    {
      "severity": "warning",
      "code": "R001",
      "message": "stop token <|return|> where <|start|> is due: dropped",
      "token": 5,
      "path": "%s",
      "span": [
        5,
        6
      ]
    }
  ]
}
""" % path
    assert err == (f"{path}:token 5: warning: stop token <|return|> where <|start|> is due: dropped [R001]\n"
                   "1 message, 1 repair, 1 token dropped\n")


CALL_THEN_HEADER = ("<|channel|>analysis<|message|>think<|call|>commentary to=functions.get_weather "
                    '<|constrain|>json<|message|>{"city":"Paris"}<|call|>')
CALL_THEN_HEADER_IDS = [200005, 35644, 200008, 49631, 200012, 12606, 815, 316, 28, 44580, 775, 170154, 220, 200003,
                        4108, 200008, 10848, 17500, 7534, 72782, 18583, 200012]
R002 = "warning: a header without <|start|>assistant before it: read as a new assistant message [R002]"


def test_parse_recover_a_header_without_start_after_call_as_token_ids(capsys, tmp_path, enc):
    assert enc.encode(CALL_THEN_HEADER, allowed_special="all") == CALL_THEN_HEADER_IDS
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CALL_THEN_HEADER_IDS), encoding="utf-8")
    code, out, err = run(capsys, "parse", "--recover", "--role", "assistant", str(path))
    assert code == 0
    assert json.loads(out) == {
        "messages": [
            {"role": "assistant", "name": None, "content": [{"type": "text", "text": "think"}], "channel": "analysis"},
            {"role": "assistant", "name": None, "content": [{"type": "text", "text": '{"city":"Paris"}'}],
             "channel": "commentary", "recipient": "functions.get_weather", "content_type": "<|constrain|>json"},
        ],
        "spans": [[0, 5], [5, 22]],
        "diagnostics": [{"severity": "warning", "code": "R002", "message": R002[9:-7], "token": 5, "path": str(path)}],
    }
    assert out == json.dumps(json.loads(out), indent=2, ensure_ascii=False) + "\n"
    assert err == f"{path}:token 5: {R002}\n2 messages, 1 repair, 0 tokens dropped\n"


def test_parse_recover_without_role(capsys, tmp_path):
    """Without --role the first header lacks its <|start|>assistant too: read as the assistant's, and said so."""
    path = tmp_path / "c.txt"
    path.write_text(CALL_THEN_HEADER, encoding="utf-8")
    code, out, err = run(capsys, "parse", "--recover", str(path))
    assert code == 0
    found = json.loads(out)
    assert [_brief(m) for m in found["messages"]] == _recovery_examples()[2]["messages"]
    assert found["spans"] == [[0, 5], [5, 22]]
    assert [(d["code"], d["token"]) for d in found["diagnostics"]] == [("R002", 0), ("R002", 5)]
    assert err == f"{path}:token 0: {R002}\n{path}:token 5: {R002}\n2 messages, 2 repairs, 0 tokens dropped\n"


@pytest.mark.parametrize("example", _recovery_examples(), ids=lambda e: e["codes"][0])
def test_parse_recover_every_recovery_example_in_every_form(capsys, tmp_path, enc, example):
    ids = enc.encode(example["wrote"], allowed_special="all")
    results = []
    for name, data in [("c.txt", example["wrote"]), ("c.json", json.dumps(ids)), ("c.ids", " ".join(map(str, ids)))]:
        path = tmp_path / name
        path.write_text(data, encoding="utf-8")
        code, out, err = run(capsys, "parse", "--role", "assistant", "--recover", str(path))
        assert code == 0
        found = json.loads(out)
        assert [_brief(m) for m in found["messages"]] == example["messages"]
        assert [d["code"] for d in found["diagnostics"]] == example["codes"]
        assert {d["path"] for d in found["diagnostics"]} == {str(path)}
        lines = err.splitlines()
        assert len(lines) == len(example["codes"]) + 1
        assert all(line.startswith(f"{path}:token ") for line in lines[:-1])
        assert lines[-1].startswith(f"{len(example['messages'])} message")
        results.append((out.replace(str(path), "PATH"), err.replace(str(path), "PATH")))
    assert results[0] == results[1] == results[2]


def test_parse_recover_well_formed_input_is_the_strict_parse(capsys, example):
    code, out, err = run(capsys, "parse", "--recover", "--role", "assistant", str(COMPLETION))
    assert code == 0
    assert err == "4 messages, 0 repairs, 0 tokens dropped\n"
    found = json.loads(out)
    assert found["messages"] == _plain(example.messages[3:])
    assert found["diagnostics"] == []
    tokens = json.loads(COMPLETION.read_text(encoding="utf-8"))
    assert found["spans"] == [[0, 21], [21, 46], [46, 71], [71, 93]] and len(tokens) == 93


def test_parse_recover_drops_everything_that_begins_no_message(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("just text"))
    code, out, err = run(capsys, "parse", "--recover")
    assert code == 0
    assert json.loads(out) == {"messages": [], "spans": [], "diagnostics": [{
        "severity": "warning", "code": "R003", "token": 0, "span": [0, 2], "path": "<stdin>",
        "message": "'just text' begins no message (no <|message|> follows before the end of the input): dropped"}]}
    assert err == ("<stdin>:token 0: warning: 'just text' begins no message (no <|message|> follows before the end "
                   "of the input): dropped [R003]\n0 messages, 1 repair, 2 tokens dropped\n")


def test_parse_recover_reads_input_as_parse_does(capsys, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"[-1]")
    code, out, err = run(capsys, "parse", "--recover", str(path))
    assert (code, out, err) == (2, "", f"{path}: error: token 0: id -1 is out of range (token ids are 0..4294967295)\n")


def test_parse_recover_and_lenient_is_a_usage_error(capsys):
    code, out, err = run(capsys, "parse", "--recover", "--lenient", str(COMPLETION))
    assert (code, out) == (2, "")
    assert err.startswith("usage: harmony-grammar parse ")
    assert "[--lenient | --recover]" in err
    assert err.endswith("harmony-grammar parse: error: argument --lenient: not allowed with argument --recover\n")
