"""``harmony-grammar templates``: export and list, refusing to overwrite, and the README's customizing steps."""

from __future__ import annotations

import re

from cli_helpers import README, run


def test_templates_export(capsys, tmp_path):
    from harmony_grammar.format.templating import template_files

    target = tmp_path / "new" / "templates"
    files = template_files()
    code, out, err = run(capsys, "templates", "export", str(target))
    assert (code, err) == (0, "")
    assert out == "".join(f"{target / name}\n" for name in files)
    written = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert written == sorted(files) == [
        "chat_template.jinja", "constraint.json", "constraint.lark.jinja", "developer.jinja", "dialect.json",
        "format.json", "header.jinja", "next_turn.jinja", "portable.jinja", "response_formats.jinja", "system.jinja",
        "tools.jinja", "typescript.jinja",
    ]
    for name, source in files.items():
        assert (target / name).read_bytes() == source.read_bytes()


def test_templates_export_is_usable_as_template_dir(capsys, tmp_path, enc, example):
    from harmony_grammar import load_harmony_encoding

    code, _, _ = run(capsys, "templates", "export", str(tmp_path))
    assert code == 0
    custom = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    assert custom.render_conversation(example) == enc.render_conversation(example)


def test_templates_export_refuses_to_overwrite(capsys, tmp_path):
    (tmp_path / "system.jinja").write_text("mine", encoding="utf-8")
    (tmp_path / "tools.jinja").write_text("mine too", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("unrelated", encoding="utf-8")
    code, out, err = run(capsys, "templates", "export", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == f"{tmp_path}: error: would overwrite system.jinja, tools.jinja (use --force to replace them)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "system.jinja", "tools.jinja"]
    assert (tmp_path / "system.jinja").read_text(encoding="utf-8") == "mine"
    code, out, err = run(capsys, "templates", "export", "--force", str(tmp_path))
    assert (code, err) == (0, "")
    assert out.count("\n") == 13
    from harmony_grammar.format.templating import template_files
    assert (tmp_path / "system.jinja").read_bytes() == template_files()["system.jinja"].read_bytes()
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "unrelated"


def test_templates_export_into_a_file(capsys, tmp_path):
    path = tmp_path / "file"
    path.write_text("x", encoding="utf-8")
    code, out, err = run(capsys, "templates", "export", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"{path}: error: cannot write: ") and err.count("\n") == 1


def test_templates_list(capsys):
    code, out, err = run(capsys, "templates", "list")
    assert (code, err) == (0, "")
    assert out == """\
chat_template.jinja     The chat bridge as a template: Chat Completions messages, as transformers' apply_chat_template passes them, to harmony text
constraint.json         Facts of the completion constraint beyond the header layout
constraint.lark.jinja   The completion constraint: what the model may write after <|start|>assistant, as a grammar
developer.jinja         The body of a developer message
dialect.json            Settings of the oss-harmony dialect, which matches oss-harmony 0.0.11 (PyPI), module openai_harmony
format.json             Rendering rules that are facts of the format rather than prose
header.jinja            The message header layout: everything from <|start|> to <|message|>, and the token that ends the message
next_turn.jinja         What render_conversation_for_completion appends: the start of the next turn
portable.jinja          The engine's `json` filter in plain Jinja, for the exported chat template (harmony-grammar chat-template), where no custom filter exists
response_formats.jinja  The "# Response Formats" section (structured output) at the end of a developer message
system.jinja            The body of a system message
tools.jinja             The "# Tools" section: one "## NAME" block per tool namespace, in key order
typescript.jinja        JSON Schema -> the TypeScript-like declarations of tool parameters
"""


def test_templates_needs_an_action(capsys):
    code, out, err = run(capsys, "templates")
    assert (code, out) == (2, "")
    assert err.endswith("harmony-grammar templates: error: the following arguments are required: ACTION\n")
    code, out, err = run(capsys, "templates", "export")
    assert (code, out) == (2, "")
    assert err.endswith("harmony-grammar templates export: error: the following arguments are required: DIR\n")


def test_templates_help_has_examples(capsys):
    for action in ("export", "list"):
        code, out, _ = run(capsys, "templates", action, "--help")
        assert code == 0
        assert out.startswith(f"usage: harmony-grammar templates {action} ")
        assert "\n  harmony-grammar templates export my-templates\n" in out


def test_readme_customizing_example_is_real(capsys, tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    steps = re.search(r"### Customizing prompts.*?```sh\n(.*?)```\n\nprints\n\n```text\n(.*?)```", text, re.S)
    commands, printed = steps.group(1).splitlines(), steps.group(2)
    assert commands[0] == "harmony-grammar templates export my-templates"
    edit = re.fullmatch(r"sed -i 's/(.*)/(.*)/' my-templates/system.jinja", commands[1])
    assert commands[2] == "harmony-grammar render --templates my-templates --mode conversation | head -4"
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "templates", "export", "my-templates")[0] == 0
    system = tmp_path / "my-templates" / "system.jinja"
    system.write_text(system.read_text(encoding="utf-8").replace(edit.group(1), edit.group(2)), encoding="utf-8")
    code, out, err = run(capsys, "render", "--templates", "my-templates", "--mode", "conversation", "--color", "never")
    assert code == 0
    assert "".join(line + "\n" for line in out.split("\n")[:4]) == printed
