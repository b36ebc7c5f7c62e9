"""``harmony-grammar chat-template``: the exported template to a file or stdout, from edited templates, errors."""

from __future__ import annotations

import subprocess
import sys

from cli_helpers import ROOT, run
from harmony_grammar import load_harmony_encoding
from harmony_grammar.format.templating import export_templates
from harmony_grammar.integrations.chat_template.check import load_cases


def test_writes_the_template_to_stdout(capsys, enc):
    code, out, err = run(capsys, "chat-template")
    assert (code, err) == (0, "")
    assert out == enc.chat_template()


def test_writes_the_template_to_a_file(capsys, tmp_path, enc):
    target = tmp_path / "chat_template.jinja"
    code, out, err = run(capsys, "chat-template", "-o", str(target))
    assert (code, out, err) == (0, "", "")
    assert target.read_text(encoding="utf-8") == enc.chat_template()


def test_the_dialect_and_edited_templates_reach_the_template(capsys, tmp_path):
    code, out, _ = run(capsys, "chat-template", "--dialect", "openai-harmony")
    assert code == 0 and out == load_harmony_encoding("HarmonyGptOss", dialect="openai-harmony").chat_template()
    export_templates(tmp_path / "t")
    system = tmp_path / "t" / "system.jinja"
    system.write_text(system.read_text(encoding="utf-8").replace('"Knowledge cutoff: "', '"Trained until: "'),
                      encoding="utf-8")
    code, out, err = run(capsys, "chat-template", "--templates", str(tmp_path / "t"))
    assert (code, err) == (0, "")
    assert '"Trained until: "' in out and '"Knowledge cutoff: "' not in out


def test_a_missing_template_folder_is_an_input_error(capsys, tmp_path):
    code, out, err = run(capsys, "chat-template", "--templates", str(tmp_path / "nowhere"))
    assert (code, out) == (2, "")
    assert err == (f"{tmp_path / 'nowhere'}: error: template folder {tmp_path / 'nowhere'} does not exist or "
                   "is not a folder\n")


def test_a_template_the_export_cannot_spell_is_an_input_error(capsys, tmp_path):
    export_templates(tmp_path)
    (tmp_path / "next_turn.jinja").write_text('{{ special("<|start|>") }}{{ role | regex_escape }}', encoding="utf-8")
    code, out, err = run(capsys, "chat-template", "--templates", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (f"{tmp_path}: error: {tmp_path / 'next_turn.jinja'}:1: the regex_escape filter has no "
                   "plain-Jinja spelling, so it cannot be exported\n")


def test_an_unwritable_output_is_an_input_error(capsys, tmp_path):
    target = tmp_path / "missing" / "t.jinja"
    code, out, err = run(capsys, "chat-template", "-o", str(target))
    assert (code, out) == (2, "")
    assert err.startswith(f"{target}: error: cannot write file: ")


def test_the_exported_template_passes_check_template_in_a_fresh_process(tmp_path):
    # The check, as a user runs it: both commands, in their own processes.
    target = tmp_path / "t.jinja"
    command = [sys.executable, "-m", "harmony_grammar"]
    subprocess.run([*command, "chat-template", "-o", str(target)], check=True, cwd=ROOT, timeout=120)
    done = subprocess.run([*command, "check-template", str(target)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    n = len(load_cases())
    assert done.stdout.splitlines()[-1] == f"{n} cases: {n} identical, 0 differ, 0 raised"
