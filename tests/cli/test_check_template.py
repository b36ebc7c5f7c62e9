"""``harmony-grammar check-template``: one line per built-in case and a summary, JSON, exit statuses, bad input."""

from __future__ import annotations

import io
import json
import re
import sys
import time

import pytest

from cli_helpers import run
from harmony_grammar.integrations.chat_template.check import load_cases
from hostile import HOSTILE

CASES = load_cases()
REFUSED = [case for case in CASES if case.refused is not None]
N = len(CASES)


def template(tmp_path, source: str, name: str = "chat.jinja"):
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return path


def test_a_template_that_refuses_everything(capsys, tmp_path):
    path = template(tmp_path, "{{ raise_exception('I refuse.') }}")
    code, out, err = run(capsys, "check-template", str(path))
    assert (code, err) == (1, "")
    assert out == "".join(
        f"{case.name}: identical (refused by both: I refuse.)\n" if case.refused is not None
        else f"{case.name}: raised: {path}:1: raise_exception: I refuse.\n"
        for case in CASES) + f"{N} cases: {len(REFUSED)} identical, 0 differ, {N - len(REFUSED)} raised\n"


def test_fixed_text_differs_on_every_case(capsys, tmp_path):
    path = template(tmp_path, "<|start|>system<|message|>Custom system.<|end|>")
    code, out, err = run(capsys, "check-template", str(path))
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0] == ("user-only: differs at character 26: changed text after <|message|>: "
                        "expected 'essage|>You are ChatGPT,' got 'essage|>Custom system.<|'")
    assert lines[-2] == (f"{REFUSED[-1].name}: differs: renders an input the bridge refuses: {REFUSED[-1].refused}")
    assert lines[-1] == f"{N} cases: 0 identical, {N} differ, 0 raised"


def test_templates_compares_against_the_edited_renderer(capsys, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "system.jinja").write_text("Custom system.", encoding="utf-8")
    path = template(tmp_path, "<|start|>system<|message|>Custom system.<|end|>")
    code, out, err = run(capsys, "check-template", str(path), "--templates", str(folder))
    assert (code, err) == (1, "")
    assert out.splitlines()[0] == ("user-only: differs at character 47: missing text at <|start|>: "
                                   "expected '.<|end|><|start|>user<|m' got '.<|end|>'")


def test_json(capsys, tmp_path):
    path = template(tmp_path, "{{ raise_exception('no') }}")
    code, out, err = run(capsys, "check-template", str(path), "--json")
    assert (code, err) == (1, "")
    report = json.loads(out)
    assert out == json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    assert report["summary"] == {"cases": N, "identical": len(REFUSED), "differ": 0, "raised": N - len(REFUSED)}
    assert [c["name"] for c in report["cases"]] == [case.name for case in CASES]
    assert report["cases"][0] == {
        "name": "user-only", "covers": CASES[0].covers, "status": "raised", "kind": None, "index": None,
        "expected": None, "got": None, "token": None, "near": None, "message": f"{path}:1: raise_exception: no",
        "refused": None, "description": f"raised: {path}:1: raise_exception: no"}
    refused = next(c for c in report["cases"] if c["name"] == REFUSED[0].name)
    assert (refused["status"], refused["message"], refused["refused"]) == ("identical", "no", REFUSED[0].refused)


def test_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a\n{{ messages[0].role.x.y }}"), "utf-8"))
    code, out, err = run(capsys, "check-template", "-")
    assert (code, err) == (1, "")
    assert out.splitlines()[0] == "user-only: raised: <stdin>:2: template error: UndefinedError: 'str object' has no attribute 'x'"


def test_a_syntax_error_is_a_usage_error(capsys, tmp_path):
    path = template(tmp_path, "{% for m in messages %}\n{{ m.content }\n{% endfor %}")
    code, out, err = run(capsys, "check-template", str(path))
    assert (code, out, err) == (2, "", f"{path}:2: error: template syntax error: unexpected '}}'\n")


def test_file_errors(capsys, tmp_path):
    code, out, err = run(capsys, "check-template", str(tmp_path / "none.jinja"))
    assert (code, out, err) == (2, "", f"{tmp_path / 'none.jinja'}: error: cannot read file: No such file or directory\n")
    path = tmp_path / "latin1.jinja"
    path.write_bytes(b"caf\xe9")
    code, out, err = run(capsys, "check-template", str(path))
    assert (code, out, err) == (2, "", f"{path}: error: not valid UTF-8 (byte offset 3)\n")
    code, out, err = run(capsys, "check-template", str(template(tmp_path, "x")), "--templates", str(tmp_path / "no"))
    assert (code, out, err) == (
        2, "", f"{tmp_path / 'no'}: error: template folder {tmp_path / 'no'} does not exist or is not a folder\n")


def test_usage(capsys):
    code, out, err = run(capsys, "check-template")
    assert (code, out) == (2, "")
    assert err.endswith("error: the following arguments are required: TEMPLATE.jinja\n")




@pytest.mark.parametrize("source", sorted(HOSTILE))
def test_hostile_templates_end_in_a_clean_exit(capsys, tmp_path, source):
    path = template(tmp_path, "{# hostile #}\n" + source + "\n")
    start = time.monotonic()
    code, out, err = run(capsys, "check-template", str(path))
    assert time.monotonic() - start < 5
    assert (code, err) == (1, "")
    message = f"{path}:2: template error: {HOSTILE[source]}"
    assert out == "".join(
        f"{case.name}: raised: {message}" + (f" (the bridge refuses this input too: {case.refused})\n"
                                             if case.refused is not None else "\n")
        for case in CASES) + f"{N} cases: 0 identical, 0 differ, {N} raised\n"
    assert "Traceback" not in out + err


def test_today_leaves_the_date_to_both_sides(capsys, tmp_path, enc):
    # The exported template made to ignore conversation_start_date, as the official one does: every
    # dated case differs at the date, and none does with --today.
    exported = enc.chat_template()
    source, n = re.subn(r'"conversation_start_date": [^,]*strftime_now\("%Y-%m-%d"\)',
                        '"conversation_start_date": strftime_now("%Y-%m-%d")', exported)
    assert n == 1
    path = template(tmp_path, source)
    code, out, _ = run(capsys, "check-template", str(path))
    dated = [c for c in CASES if c.refused is None and "conversation_start_date" in c.kwargs]
    assert code == 1 and out.count(": changed text after <|message|>: expected 'ate: 2025-06-28") == len(dated) > 50
    code, out, _ = run(capsys, "check-template", str(path), "--today")
    assert (code, out.splitlines()[-1]) == (0, f"{N} cases: {N} identical, 0 differ, 0 raised")
