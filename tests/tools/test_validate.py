"""Transcript validation (harmony_grammar/validate.py): every diagnostic code, exactly, and how the validator recovers.

Each code of ``grammar/checks.json`` has a test on a hand-written transcript that
checks the complete list of diagnostics: severity, code, position and message
text. Positions are 1-based line and column for text, 0-based token indices for
token ids.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from conftest import GOLDEN
from harmony_grammar import Diagnostic, HarmonyError, validate, validate_file
from harmony_grammar.resources import load_json

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# The validator's codes; the R codes belong to recovery (tests/engine/test_recover.py).
CHECKS = {code: spec for code, spec in load_json("grammar", "checks.json")["diagnostics"].items()
          if not code.startswith("R")}

# Golden files that hold a completion (what the model writes after <|start|>assistant).
COMPLETIONS = {"test_simple_reasoning_response.txt", "test_simple_tool_call.txt", "test_streamable_parser.txt"}
# Golden files the reference cuts off inside the last message (its final <|end|> dropped): E005, and nothing else.
CUT_OFF = {"test_tool_response_parsing.txt"}

# A system message over three lines; the next message starts on line 3, column 86.
SYSTEM = (
    "<|start|>system<|message|>You are ChatGPT.\n"
    "\n"
    "# Valid channels: analysis, final. Channel must be included for every message.<|end|>"
)
# A developer message declaring functions.get_current_weather; the next message starts on line 12, column 32.
DEVELOPER = (
    "<|start|>developer<|message|># Tools\n"
    "\n"
    "## functions\n"
    "\n"
    "namespace functions {\n"
    "\n"
    "// Gets the weather.\n"
    "type get_current_weather = (_: {\n"
    "location: string,\n"
    "}) => any;\n"
    "\n"
    "} // namespace functions<|end|>"
)
CALL_HEADER = "<|start|>assistant<|channel|>commentary to=functions.get_current_weather <|constrain|>json<|message|>"

UNKNOWN_ROLE = ("unknown role 'robot' (expected user, assistant, system, developer, tool, "
                "or a tool name followed by a recipient)")
WHITESPACE = "whitespace between messages ({}); the model never sees it, remove it"


def found(transcript, **kwargs) -> list[tuple]:
    """(severity, code, line, column, message) for text, (severity, code, token, message) for token ids."""
    out = []
    for d in validate(transcript, **kwargs):
        where = (d.line, d.column) if d.token is None else (d.token,)
        out.append((d.severity, d.code, *where, d.message))
    return out


def test_fixture_positions():
    """The positions the tests below rely on."""
    assert SYSTEM.splitlines()[-1].index("<|end|>") + len("<|end|>") + 1 == 86
    assert DEVELOPER.count("\n") == 11
    assert len(DEVELOPER.splitlines()[-1]) + 1 == 32
    assert found(SYSTEM + DEVELOPER) == []


def test_every_code_has_a_test():
    tested = {name[len("test_code_"):].split("_")[0].upper()
              for name in globals() if name.startswith("test_code_")}
    assert tested == set(CHECKS)


def test_codes_match_the_check_table():
    """Severities come from grammar/checks.json (the tests below spell them out)."""
    assert {code: spec["severity"] for code, spec in CHECKS.items()} == {
        "S001": "error", "S002": "error", "S003": "warning",
        "H001": "error", "H002": "error", "H003": "error", "H004": "error", "H005": "error",
        "C001": "error", "C002": "error", "F001": "warning",
        "J001": "error", "J002": "warning",
        "E001": "error", "E002": "warning", "E003": "warning", "E004": "error", "E005": "error",
        "T001": "warning",
    }


# -- one test per code ---------------------------------------------------------------


def test_code_s001_token_between_messages():
    transcript = (
        "<|start|>user<|message|>Hi<|end|><|call|><|start|>user<|message|>Line one\n"
        "line two<|end|>oops<|start|>user<|message|>x<|end|>"
    )
    assert found(transcript) == [
        ("error", "S001", 1, 34, "expected <|start|> to begin a message, found <|call|>"),
        ("error", "S001", 2, 16, "expected <|start|> to begin a message, found text 'oops'"),
    ]


def test_code_s001_for_a_special_token_at_the_end():
    assert found("<|start|>user<|message|>Hi<|end|><|end|>") == [
        ("error", "S001", 1, 34, "expected <|start|> to begin a message, found <|end|>"),
    ]


def test_code_s002_text_after_the_last_message():
    assert found("<|start|>user<|message|>Hi<|end|>The end.") == [
        ("error", "S002", 1, 34, "text after the last message: 'The end.'"),
    ]
    assert found("<|start|>user<|message|>Hi<|end|>" + "x" * 41) == [
        ("error", "S002", 1, 34, "text after the last message: '" + "x" * 40 + "...'"),
    ]


def test_code_s003_whitespace_between_messages():
    transcript = (
        "<|start|>user<|message|>Hi<|end|>\n\n"
        "<|start|>user<|message|>Again<|end|> <|start|>user<|message|>x<|end|>\n"
    )
    # One newline at the very end of a text file is not part of the transcript.
    assert found(transcript) == [
        ("warning", "S003", 1, 34, WHITESPACE.format(r"'\n\n'")),
        ("warning", "S003", 3, 37, WHITESPACE.format("' '")),
    ]
    assert found("<|start|>user<|message|>Hi<|end|>\n\n") == [
        ("warning", "S003", 1, 34, WHITESPACE.format(r"'\n\n'")),
    ]


def test_code_h001_unknown_role():
    assert found("<|start|>user<|message|>Hi<|end|><|start|>robot<|message|>beep<|end|>") == [
        ("error", "H001", 1, 43, UNKNOWN_ROLE),
    ]


def test_code_h002_header_not_closed():
    transcript = (
        "<|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>final<|end|>"
        "<|start|>user<|message|>x<|end|>"
    )
    assert found(transcript) == [
        ("error", "H002", 1, 68, "expected <|message|> after the header, found <|end|>"),
    ]


def test_code_h002_at_the_end_of_a_completion():
    at_end = ("expected <|message|> after the header, found the end of the input "
              "(the message starting here has no <|message|>)")
    assert found("<|channel|>final no message", role="assistant") == [("error", "H002", 1, 1, at_end)]
    completion = "<|channel|>analysis<|message|>x<|end|><|start|>assistant<|channel|>final"
    assert found(completion, role="assistant") == [("error", "H002", 1, 39, at_end)]


def test_code_h003_unreadable_header():
    transcript = (
        "<|start|>assistant<|channel|><|message|>Hi<|end|>"
        "<|start|>user a b c<|message|>Hi<|end|>"
        "<|start|><|message|>Hi<|end|>"
    )
    assert found(transcript) == [
        ("error", "H003", 1, 10, "channel marker present but no channel value found in header"),
        ("error", "H003", 1, 59, "unexpected words in the header: 'a' "
                                 "(a header holds a role, a recipient, a channel and a content type)"),
        ("error", "H003", 1, 98, "message header did not contain a role"),
    ]


def test_code_h004_header_not_utf8(enc):
    assert enc.decode_bytes([127]) == b"\xc3"  # half of a two-byte UTF-8 sequence
    tokens = [200006, 1428, 200008, 12194, 200007, 200006, 127, 200008, 12194, 200007]
    assert found(tokens) == [
        ("error", "H004", 6, "the message header does not decode to UTF-8 text"),
    ]


def test_code_c001_undeclared_channel():
    transcript = SYSTEM + "<|start|>assistant<|channel|>commentary<|message|>Hi<|end|>"
    assert found(transcript) == [
        ("error", "C001", 3, 95, "channel 'commentary' is not one of the valid channels the system message "
                                 "declares (analysis, final)"),
    ]


def test_code_c002_missing_channel():
    transcript = SYSTEM + "<|start|>assistant<|message|>Hi<|end|>"
    assert found(transcript) == [
        ("error", "C002", 3, 95, "assistant message has no channel, but the system message requires one "
                                 "(analysis, final)"),
    ]
    optional = SYSTEM.replace(" Channel must be included for every message.", "")
    assert found(optional + "<|start|>assistant<|message|>Hi<|end|>") == []


def test_code_f001_undeclared_function():
    transcript = (
        DEVELOPER
        + "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{}<|call|>"
        + CALL_HEADER + '{"location": "SF"}<|call|>'
    )
    assert found(transcript) == [
        ("warning", "F001", 12, 41, "recipient 'functions.get_weather': the developer message declares "
                                    "no function 'get_weather'"),
    ]


def test_code_j001_invalid_json():
    # The position is that of the JSON error, inside the content: here its third line.
    transcript = DEVELOPER + CALL_HEADER + '{\n  "location": "SF",\n}<|call|>'
    assert found(transcript) == [
        ("error", "J001", 14, 1, "content is constrained to JSON but is not valid JSON: Expecting property "
                                 "name enclosed in double quotes at line 3 column 1 of the content"),
    ]
    assert found(DEVELOPER + CALL_HEADER + "<|call|>") == [
        ("error", "J001", 12, 133, "content is constrained to JSON but is not valid JSON: Expecting value "
                                   "at line 1 column 1 of the content"),
    ]


def test_code_j001_on_token_ids_points_at_the_content(enc):
    tokens = enc.encode(DEVELOPER + CALL_HEADER + '{"location": }<|call|>', allowed_special="all")
    content = tokens.index(200008, tokens.index(200005)) + 1  # after the call's <|message|>
    assert found(tokens) == [
        ("error", "J001", content, "content is constrained to JSON but is not valid JSON: Expecting value "
                                   "at line 1 column 14 of the content"),
    ]


def test_code_j002_arguments_do_not_fit_the_schema():
    pytest.importorskip("jsonschema", reason="J002 needs the optional jsonschema package (the 'validate' extra)")
    transcript = DEVELOPER + CALL_HEADER + '{"location": 5}<|call|>'
    assert found(transcript) == [
        ("warning", "J002", 12, 133, "arguments for 'functions.get_current_weather' do not fit its declared "
                                     "parameters: location: 5 is not of type 'string'"),
    ]
    assert found(DEVELOPER + CALL_HEADER + "{}<|call|>") == [
        ("warning", "J002", 12, 133, "arguments for 'functions.get_current_weather' do not fit its declared "
                                     "parameters: (top level): 'location' is a required property"),
    ]
    assert found(DEVELOPER + CALL_HEADER + '{"location": "SF"}<|call|>') == []


def test_code_j002_on_the_example_transcript():
    pytest.importorskip("jsonschema", reason="J002 needs the optional jsonschema package (the 'validate' extra)")
    text = (EXAMPLES / "transcript.txt").read_text(encoding="utf-8")
    good = '{"location": "San Francisco, CA"}'
    bad = text.replace(good, '{"location": "San Francisco, CA", "format": "kelvin"}')
    line = bad[: bad.index('{"location"')].count("\n") + 1
    column = bad.index('{"location"') - bad.rindex("\n", 0, bad.index('{"location"'))
    assert found(bad) == [
        ("warning", "J002", line, column, "arguments for 'functions.get_current_weather' do not fit its "
                                          "declared parameters: format: 'kelvin' is not one of "
                                          "['celsius', 'fahrenheit']"),
    ]


def test_code_e001_return_before_the_end():
    transcript = "<|start|>assistant<|channel|>final<|message|>Hi<|return|><|start|>user<|message|>Thanks<|end|>"
    assert found(transcript) == [
        ("error", "E001", 1, 48, "<|return|> ends only the last message; prompt history must use <|end|>"),
    ]
    assert found("<|start|>assistant<|channel|>final<|message|>Hi<|return|>") == []


def test_code_e002_call_without_recipient():
    assert found("<|start|>assistant<|channel|>commentary<|message|>Hi<|call|>") == [
        ("warning", "E002", 1, 53, "<|call|> ends a message that has no recipient"),
    ]


def test_code_e003_return_inside_a_completion():
    completion = "<|channel|>final<|message|>Hi<|return|><|start|>assistant<|channel|>final<|message|>Again<|end|>"
    assert found(completion, role="assistant") == [
        ("warning", "E003", 1, 30, "<|return|> ends a message that is not the last of this completion; "
                                   "a model stops sampling at <|return|>"),
    ]
    assert found("<|channel|>final<|message|>Hi<|return|>", role="assistant") == []


def test_code_t001_result_of_a_tool_never_called():
    result = "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{}<|end|>"
    assert found(result) == [
        ("warning", "T001", 1, 10, "tool result from 'functions.get_weather', which no earlier message called"),
    ]
    call = "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{}<|call|>"
    assert found(call + result) == []  # called first (and without a developer message, F001 has nothing to check)


# -- recovery ------------------------------------------------------------------------


BROKEN = [
    ("warning", "S003", 17, 32, WHITESPACE.format(r"'\n'")),
    ("error", "C001", 18, 72, "channel 'thinking' is not one of the valid channels the system message declares "
                              "(analysis, commentary, final)"),
    ("error", "J001", 18, 263, "content is constrained to JSON but is not valid JSON: Expecting value at line 1 "
                               "column 14 of the content"),
    ("error", "H002", 18, 357, "expected <|message|> after the header, found <|end|>"),
    ("error", "E001", 18, 427, "<|return|> ends only the last message; prompt history must use <|end|>"),
    ("error", "S002", 18, 475, "text after the last message: 'Bye.'"),
]


def test_every_problem_of_the_broken_example_is_reported():
    text = (EXAMPLES / "broken.txt").read_text(encoding="utf-8")
    assert found(text) == BROKEN
    line18 = text.splitlines()[17]
    assert line18[71:].startswith("assistant<|channel|>thinking")  # header diagnostics point at the header
    assert line18[262:].startswith("San Francisco}")
    assert line18[356:].startswith("<|end|>")
    assert line18[426:].startswith("<|return|>")
    assert line18[474:] == "Bye."


def test_messages_after_a_broken_one_are_still_checked():
    transcript = (
        SYSTEM
        + "<|start|>assistant<|channel|>final<|end|>"       # H002: no <|message|>
        + "<|start|>assistant<|channel|>draft<|message|>x<|end|>"  # C001, checked after the broken message
        + "junk"                                             # S001
        + "<|start|>robot<|message|>x<|end|>"               # H001
        + "<|start|>assistant<|message|>y<|end|>"           # C002
    )
    assert [(code, line, column) for _, code, line, column, _ in found(transcript)] == [
        ("H002", 3, 120), ("C001", 3, 136), ("S001", 3, 180), ("H001", 3, 193), ("C002", 3, 226),
    ]


def test_declarations_survive_a_broken_message():
    transcript = (
        SYSTEM + "<|start|>user no message<|end|>" + DEVELOPER + "<|start|>user<|message|>Hi<|end|>"
        + "<|start|>assistant<|channel|>commentary<|message|>x<|end|>"
    )
    assert [d[1] for d in found(transcript)] == ["H002", "C001"]


# -- token ids, files and stdin ------------------------------------------------------


def _tokens_with_problems(enc) -> list[int]:
    return enc.encode(
        "<|start|>user<|message|>Hi<|end|>\n<|start|>assistant<|channel|>commentary<|message|>Hi<|call|>",
        allowed_special="all",
    )


def test_token_ids_give_token_indices(enc):
    tokens = _tokens_with_problems(enc)
    assert tokens[5] == 198 and tokens[-1] == 200012
    expected = [
        ("warning", "S003", 5, WHITESPACE.format(r"'\n'")),
        ("warning", "E002", len(tokens) - 1, "<|call|> ends a message that has no recipient"),
    ]
    assert found(tokens) == expected
    assert found(tuple(tokens)) == expected


@pytest.mark.parametrize("name, layout", [
    ("tokens.json", lambda ids: json.dumps(ids)),
    ("tokens.json", lambda ids: json.dumps(ids, indent=1)),
    ("tokens.txt", lambda ids: " ".join(map(str, ids)) + "\n"),
    ("tokens", lambda ids: "\n".join(" ".join(map(str, ids[i:i + 10])) for i in range(0, len(ids), 10))),
])
def test_token_id_files(enc, tmp_path, name, layout):
    tokens = _tokens_with_problems(enc)
    path = tmp_path / name
    path.write_text(layout(tokens), encoding="utf-8")
    diagnostics = validate_file(str(path))
    assert [d.to_dict() for d in diagnostics] == [
        {"severity": "warning", "code": "S003", "message": WHITESPACE.format(r"'\n'"), "token": 5, "path": str(path)},
        {"severity": "warning", "code": "E002", "message": "<|call|> ends a message that has no recipient",
         "token": len(tokens) - 1, "path": str(path)},
    ]
    assert [d.format() for d in diagnostics] == [
        f"{path}:token 5: warning: whitespace between messages ('\\n'); the model never sees it, remove it [S003]",
        f"{path}:token {len(tokens) - 1}: warning: <|call|> ends a message that has no recipient [E002]",
    ]


def test_text_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("<|start|>robot<|message|>x<|end|>\n", encoding="utf-8")
    (diagnostic,) = validate_file(str(path))
    assert diagnostic == Diagnostic("error", "H001", UNKNOWN_ROLE, line=1, column=10, path=str(path))
    assert diagnostic.format() == f"{path}:1:10: error: {UNKNOWN_ROLE} [H001]"


def test_text_file_with_role(tmp_path):
    path = tmp_path / "completion.txt"
    path.write_text("<|channel|>final<|message|>Hi<|return|><|start|>assistant<|channel|>final<|message|>x<|end|>",
                    encoding="utf-8")
    assert [d.code for d in validate_file(str(path), role="assistant")] == ["E003"]
    assert [d.code for d in validate_file(str(path))] == ["S001"]


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_stdin_text(monkeypatch):
    _stdin(monkeypatch, b"<|start|>user<|message|>Hi<|end|>\n\n<|start|>robot<|message|>x<|end|>\n")
    assert [d.to_dict() for d in validate_file("-")] == [
        {"severity": "warning", "code": "S003", "message": WHITESPACE.format(r"'\n\n'"), "line": 1, "column": 34,
         "path": "<stdin>"},
        {"severity": "error", "code": "H001", "message": UNKNOWN_ROLE, "line": 3, "column": 10, "path": "<stdin>"},
    ]


@pytest.mark.parametrize("layout", [json.dumps, lambda ids: " ".join(map(str, ids))])
def test_stdin_token_ids(monkeypatch, enc, layout):
    tokens = _tokens_with_problems(enc)
    _stdin(monkeypatch, layout(tokens).encode())
    assert [(d.code, d.token, d.path) for d in validate_file("-")] == [
        ("S003", 5, "<stdin>"), ("E002", len(tokens) - 1, "<stdin>"),
    ]


def test_data_instead_of_reading():
    assert [d.code for d in validate_file("x.txt", data=b"<|start|>robot<|message|>x<|end|>")] == ["H001"]


@pytest.mark.parametrize("name, data, message", [
    ("bad.json", b"[1, 2", "{path}:1:6: invalid JSON: Expecting ',' delimiter"),
    ("bad.json", b'{"tokens": [1]}', "{path}: expected a JSON list of token ids, found dict"),
    ("bad.json", b'["a"]', "token 0: expected an integer token id, found str 'a'"),
    ("bad.json", b"[-1]", "token 0: id -1 is out of range (token ids are 0..4294967295)"),
    ("bad.txt", b"caf\xe9", "{path}: not UTF-8 text (byte 3)"),
])
def test_malformed_files_raise(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(HarmonyError) as raised:
        validate_file(str(path))
    assert str(raised.value) == message.format(path=path)


def test_deeply_nested_json_file_raises_harmony_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(HarmonyError):
        validate_file(str(path))


def test_unreadable_file_raises(tmp_path):
    path = tmp_path / "missing.txt"
    with pytest.raises(HarmonyError) as raised:
        validate_file(str(path))
    assert str(raised.value) == f"{path}: cannot read: No such file or directory"


# -- the shape of a diagnostic -------------------------------------------------------


def test_diagnostic_json_shape():
    text_diag, = validate("<|start|>robot<|message|>x<|end|>", path="a.txt")
    assert json.loads(json.dumps(text_diag.to_dict())) == {
        "severity": "error", "code": "H001", "message": UNKNOWN_ROLE, "line": 1, "column": 10, "path": "a.txt",
    }
    token_diag, = validate([200006, 200012])
    assert token_diag.to_dict() == {
        "severity": "error", "code": "H002", "message": "expected <|message|> after the header, found <|call|>",
        "token": 1,
    }
    assert token_diag.format() == "<tokens>:token 1: error: expected <|message|> after the header, found <|call|> [H002]"
    assert Diagnostic("warning", "X", "m").format() == "<text>: warning: m [X]"
    assert validate("<|start|>robot<|message|>x<|end|>")[0].format() == f"<text>:1:10: error: {UNKNOWN_ROLE} [H001]"


# -- valid transcripts ---------------------------------------------------------------


GOLDEN_FILES = sorted(GOLDEN.glob("*/*.txt"))


@pytest.mark.parametrize("path", GOLDEN_FILES or [None], ids=lambda p: "-".join(p.parts[-2:]) if p else "none")
def test_golden_files_have_no_errors(path):
    assert path is not None, f"no golden files in {GOLDEN}: run scripts/make_golden.py"
    role = "assistant" if path.name in COMPLETIONS else None
    errors = [d for d in validate_file(str(path), role=role) if d.severity == "error"]
    if path.name in CUT_OFF:
        assert [(d.code, d.line, d.column) for d in errors] == [("E005", 1, 1)]
        ended = validate_file(str(path), role=role, data=path.read_bytes().rstrip(b"\n") + b"<|end|>")
        assert [d.code for d in ended] == ["T001"]  # a warning: browser.search answers no call in this file
        return
    assert [d.format() for d in errors] == []


def test_example_files_are_valid():
    assert validate_file(str(EXAMPLES / "transcript.txt")) == []
    completion = validate_file(str(EXAMPLES / "completion.json"), role="assistant")
    assert [d.severity for d in completion] in ([], ["warning"])  # F001: see test_no_f001_without_declarations


def test_rendered_conversations_are_valid(enc):
    from harmony_grammar import RenderConversationConfig, Role
    from harmony_grammar.example import example_conversation

    convo = example_conversation()
    keep = RenderConversationConfig(auto_drop_analysis=False)
    for tokens in (
        enc.render_conversation_for_completion(convo, Role.ASSISTANT),
        enc.render_conversation_for_training(convo),
        enc.render_conversation(convo, keep),
    ):
        assert validate(tokens) == []
        assert validate(enc.decode_utf8(tokens)) == []


def test_a_10_mb_transcript():
    pair = ("<|start|>user<|message|>What is 2 + 2? Explain.\nThanks.<|end|>"
            "<|start|>assistant<|channel|>final<|message|>" + "Four. " * 20 + "<|end|>")
    n = 10_000_000 // len(pair) + 1
    half = n // 2
    text = (SYSTEM + pair * half + "\n" + pair * (n - half)
            + "<|start|>assistant<|channel|>thinking<|message|>x<|end|>")
    assert len(text) > 10_000_000
    # SYSTEM ends on line 3, and each pair adds one line.
    tail = len("Thanks.<|end|><|start|>assistant<|channel|>final<|message|>" + "Four. " * 20 + "<|end|>")
    assert found(text) == [
        ("warning", "S003", 3 + half, tail + 1, WHITESPACE.format(r"'\n'")),
        ("error", "C001", 4 + n, tail + len("<|start|>") + 1,
         "channel 'thinking' is not one of the valid channels the system message declares (analysis, final)"),
    ]


# -- suspected validator bugs --------------------------------------------------------


def test_code_e004_start_inside_content():
    transcript = "<|start|>user<|message|>Hi<|start|>assistant<|channel|>final<|message|>Hello<|end|>"
    assert found(transcript) == [
        ("error", "E004", 1, 27, "<|start|> inside the content of the message that starts at 1:1: "
                                 "that message has no <|end|>"),
    ]


NOT_ENDED = "the last message (it starts at {}) has no stop token: end it with <|end|>, <|return|> or <|call|>"
AT_END = ("expected <|message|> after the header, found the end of the input "
          "(the message starting here has no <|message|>)")


def test_code_e005_last_message_not_ended(enc):
    transcript = "<|start|>user<|message|>Hi<|end|>\n<|start|>assistant<|channel|>final<|message|>Hello\nworld"
    assert found(transcript) == [
        ("warning", "S003", 1, 34, WHITESPACE.format(r"'\n'")),
        ("error", "E005", 2, 1, NOT_ENDED.format("2:1")),
    ]
    assert found("<|start|>user<|message|>") == [("error", "E005", 1, 1, NOT_ENDED.format("1:1"))]
    tokens = enc.encode(transcript, allowed_special="all")
    last = len(tokens) - 1 - tokens[::-1].index(200006)  # the last <|start|>
    assert last == 6
    assert found(tokens) == [
        ("warning", "S003", 5, WHITESPACE.format(r"'\n'")),
        ("error", "E005", 6, NOT_ENDED.format("token 6")),
    ]
    # Header problems of the cut-off message are still reported, after it.
    assert found("<|start|>robot<|message|>beep") == [
        ("error", "E005", 1, 1, NOT_ENDED.format("1:1")),
        ("error", "H001", 1, 10, UNKNOWN_ROLE),
    ]


def test_e005_with_a_start_inside_the_content():
    # E004's message is the grammar's last message; it has neither <|end|> nor any stop token.
    transcript = "<|start|>user<|message|>Hi<|start|>assistant<|channel|>final<|message|>Hello"
    assert found(transcript) == [
        ("error", "E005", 1, 1, NOT_ENDED.format("1:1")),
        ("error", "E004", 1, 27, "<|start|> inside the content of the message that starts at 1:1: "
                                 "that message has no <|end|>"),
    ]


def test_e005_on_the_example_transcript_cut_off():
    text = (EXAMPLES / "transcript.txt").read_text(encoding="utf-8")
    assert text.endswith("<|end|>\n")
    cut = text[: -len("<|end|>\n")]
    start = cut.rindex("<|start|>")
    line, column = cut.count("\n") + 1, start - cut.rindex("\n", 0, start)
    assert found(cut) == [("error", "E005", line, column, NOT_ENDED.format(f"{line}:{column}"))]


def test_a_completion_may_end_inside_a_message():
    # Model output (role given) may be cut off; the reference's own test data is (see COMPLETIONS).
    assert found("<|channel|>final<|message|>Hi", role="assistant") == []
    assert found("<|channel|>analysis<|message|>x<|end|><|start|>assistant<|channel|>final<|message|>Hi",
                 role="assistant") == []


@pytest.mark.parametrize("transcript", [
    "",
    "<|start|>user<|message|>Hi<|end|>",
    "<|start|>user<|message|>Hi<|end|>\n",
    "<|start|>assistant<|channel|>final<|message|>Hi<|return|>",
    "<|start|>assistant<|channel|>commentary to=functions.f<|message|>{}<|call|>",
    "<|start|>assistant",
    "<|start|>user<|message|>Hi<|end|><|start|>assistant",
    "<|start|>user<|message|>Hi<|end|><|start|>assistant\n",  # the newline ending a text file
    "<|start|>assistant<|channel|>commentary to=functions.f<|message|>{}<|call|><|start|>functions.f",
])
def test_ended_transcripts_and_open_prompts_are_valid(enc, transcript):
    assert found(transcript) == []
    assert found(enc.encode(transcript.rstrip("\n"), allowed_special="all")) == []


@pytest.mark.parametrize("tail", [
    "<|channel|>final", "<|channel|>final ", " to=functions.f", "<|constrain|>json", " ", "\n\n",
])
def test_a_prompt_with_more_than_the_role_is_h002(enc, tail):
    transcript = "<|start|>user<|message|>Hi<|end|><|start|>assistant" + tail
    assert found(transcript) == [("error", "H002", 1, 34, AT_END)]
    assert found(enc.encode(transcript, allowed_special="all")) == [("error", "H002", 5, AT_END)]


def test_a_prompt_header_that_does_not_read_keeps_its_code():
    assert found("<|start|>user<|message|>Hi<|end|><|start|>robot") == [("error", "H001", 1, 43, UNKNOWN_ROLE)]
    assert found("<|start|>user<|message|>Hi<|end|><|start|>") == [
        ("error", "H003", 1, 43, "message header did not contain a role"),
    ]
    assert found("<|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>") == [
        ("error", "H003", 1, 43, "channel marker present but no channel value found in header"),
    ]


@pytest.mark.parametrize("value", ["NaN", "-Infinity", "1e400"])
def test_non_standard_json_is_j001(value):
    transcript = DEVELOPER + CALL_HEADER + '{"location": "SF", "n": ' + value + "}<|call|>"
    assert [d.code for d in validate(transcript)] == ["J001"]


def test_text_without_any_message_is_s001():
    assert found("hello") == [("error", "S001", 1, 1, "expected <|start|> to begin a message, found text 'hello'")]


def test_code_h005_start_inside_a_header():
    assert found("<|start|>assistant<|channel|>final<|message|>Hi<|return|>", role="assistant") == [
        ("error", "H005", 1, 1, "<|start|> inside a message header: the header before it has no <|message|> "
                                "(or a completion given with a role repeats <|start|>assistant)"),
    ]
    assert found("<|start|>user<|start|>assistant<|message|>Hi<|end|>") == [
        ("error", "H005", 1, 14, "<|start|> inside a message header: the header before it has no <|message|> "
                                 "(or a completion given with a role repeats <|start|>ROLE)"),
    ]


def test_no_f001_without_declarations():
    assert validate_file(str(EXAMPLES / "completion.json"), role="assistant") == []


def test_a_developer_message_with_response_formats_and_tools_validates(enc):
    from harmony_grammar import conversation_from_chat

    convo = conversation_from_chat(
        [{"role": "system", "content": "Shop."}, {"role": "user", "content": "eggs"},
         {"role": "assistant", "tool_calls": [{"id": "1", "type": "function",
                                               "function": {"name": "add", "arguments": '{"item":"eggs"}'}}]},
         {"role": "tool", "tool_call_id": "1", "content": "ok"},
         {"role": "assistant", "content": '{"items":["eggs"]}'}],
        [{"type": "function", "function": {"name": "add", "description": "Add an item.", "parameters": {
            "type": "object", "properties": {"item": {"type": "string"}}, "required": ["item"]}}}],
        response_format={"type": "json_schema", "json_schema": {"name": "list", "schema": {"type": "object"}}})
    text = enc.decode_utf8(enc.render_conversation(convo))
    assert "# Response Formats\n\n## list\n\n{\"type\":\"object\"}<|end|>" in text
    assert validate(text) == []
    bad = text.replace('{"item":"eggs"}', '{"thing":"eggs"}')
    assert [d.code for d in validate(bad)] == ["J002"]
