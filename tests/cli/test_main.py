"""The program as a whole: help, version, exit statuses, ``python -m`` and the console script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import README, ROOT, run
from example_render import EXPECTED_RENDER
from harmony_grammar import Role
from harmony_grammar.cli import COMMANDS


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


# -- the modules -------------------------------------------------------------


def test_one_module_per_command_each_saying_its_job_in_one_line():
    import importlib
    import pkgutil

    import harmony_grammar.cli as cli

    names = [m.name for m in pkgutil.iter_modules(cli.__path__)]
    assert sorted(names) == ["chat_template", "check_template", "grammar", "io", "parse", "render", "render_dataset",
                             "repair", "templates", "validate"]
    for module in [cli] + [importlib.import_module(f"harmony_grammar.cli.{name}") for name in names]:
        doc = (module.__doc__ or "").strip()
        assert doc and "\n" not in doc, module.__name__


def test_the_dataset_modules_load_only_for_render_dataset(tmp_path):
    code = ("import sys, harmony_grammar.cli as cli\n"
            "cli.main(['templates', 'list'])\n"
            "print('harmony_grammar.integrations.dataset_files' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env=_clean_env(), timeout=120)
    assert (proc.returncode, proc.stderr) == (0, "False\n")


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


# -- the README's command examples -------------------------------------------


# A one-line ```sh block with a harmony-grammar command (perhaps reading stdin from an
# `echo '...' |`), a paragraph, then a ```text or ```json block: what it prints (stdout, then stderr).
README_COMMAND = re.compile(
    r"```sh\n((?:echo '[^'\n]*' \| )?harmony-grammar [^\n]*)\n```\n\n((?:(?!```).)*?)\n\n```(?:text|json)\n(.*?)```\n",
    re.S)


def test_readme_commands_print_what_it_says(capsys, monkeypatch):
    import io
    import shlex

    text = README.read_text(encoding="utf-8")
    # render-dataset needs the files the README's Python blocks write: tests/test_readme.py runs it.
    examples = [e for e in README_COMMAND.findall(text) if not e[0].startswith("harmony-grammar render-dataset")]
    commands = [command for command, _, _ in examples]
    assert commands == [
        "harmony-grammar validate examples/transcript.txt examples/broken.txt",
        "harmony-grammar validate --format json examples/transcript.txt",
        "harmony-grammar parse --role assistant examples/completion.json",
        "echo '<|channel|>final<|message|>Hi<|end|><|return|>' | harmony-grammar parse --recover --role assistant",
        "echo '<|channel|>analysis<|message|>think<|call|>commentary to=functions.get_weather <|constrain|>json"
        "<|message|>{\"city\":\"Paris\"}<|call|>' | harmony-grammar repair --role assistant",
    ]
    monkeypatch.chdir(ROOT)
    for command, said, printed in examples:
        words = shlex.split(command)
        if words[0] == "echo":
            monkeypatch.setattr(sys, "stdin", io.StringIO(words[1] + "\n"))
            words = words[words.index("|") + 1:]
        code, out, err = run(capsys, *words[1:])
        assert out + err == printed, command
        status = re.search(r"exit status (\d)", said)
        assert code == (int(status.group(1)) if status else 0), command
    begins = re.search(r"and for `examples/broken.txt` a list that begins\n\n```json\n(.*?)```\n", text, re.S)
    code, out, err = run(capsys, "validate", "--format", "json", "examples/broken.txt")
    assert code == 1 and out.startswith(begins.group(1))
