"""User template folders: export, partial and full overrides, and the errors a broken template gives."""

from __future__ import annotations


import pytest

from harmony_grammar import (
    Conversation,
    DeveloperContent,
    HarmonyError,
    Message,
    Role,
    SystemContent,
    load_harmony_encoding,
)
from harmony_grammar.format.templating import export_templates, template_files


def _convo() -> Conversation:
    return Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, SystemContent.new().with_conversation_start_date("2025-06-28")),
        Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new().with_instructions("Be brief")),
        Message.from_role_and_content(Role.USER, "Hi"),
    ])


def test_export_writes_one_flat_set_per_dialect(tmp_path):
    written = export_templates(tmp_path / "t", "openai-harmony")
    names = sorted(p.relative_to(tmp_path / "t").as_posix() for p in written)
    assert names == ["chat_template.jinja", "constraint.json", "constraint.lark.jinja", "developer.jinja",
                     "dialect.json", "format.json", "header.jinja", "next_turn.jinja", "portable.jinja",
                     "response_formats.jinja", "system.jinja", "tools.jinja", "typescript.jinja"]
    assert (tmp_path / "t" / "header.jinja").read_bytes() == template_files("openai-harmony")["header.jinja"].read_bytes()
    with pytest.raises(HarmonyError, match="would overwrite chat_template.jinja, constraint.json, constraint.lark.jinja, developer.jinja"):
        export_templates(tmp_path / "t", "oss-harmony")
    export_templates(tmp_path / "t", "oss-harmony", force=True)
    assert (tmp_path / "t" / "header.jinja").read_bytes() == template_files("oss-harmony")["header.jinja"].read_bytes()


def test_full_override_renders_exactly_like_the_defaults(tmp_path, enc):
    export_templates(tmp_path, "oss-harmony")
    custom = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    assert custom is not enc
    convo = _convo()
    assert custom.render_conversation_for_completion(convo, Role.ASSISTANT) == \
        enc.render_conversation_for_completion(convo, Role.ASSISTANT)


def test_partial_override_changes_one_line_and_parsing_still_works(tmp_path, enc):
    system = template_files()["system.jinja"].read_text(encoding="utf-8")
    assert '"Knowledge cutoff: "' in system
    (tmp_path / "system.jinja").write_text(system.replace('"Knowledge cutoff: "', '"Trained on data up to: "'),
                                            encoding="utf-8")
    custom = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    tokens = custom.render_conversation(_convo())
    text = custom.decode_utf8(tokens)
    assert text == (
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
        "Trained on data up to: 2024-06\nCurrent date: 2025-06-28\n\nReasoning: medium\n\n"
        "# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>"
        "<|start|>developer<|message|># Instructions\n\nBe brief<|end|><|start|>user<|message|>Hi<|end|>"
    )
    # Files not in the folder still come from the defaults, and the grammar still reads the result.
    parsed = custom.parse_messages_from_completion_tokens(tokens)
    assert [(m.author.role, m.content[0].text[:10]) for m in parsed] == [
        (Role.SYSTEM, "You are Ch"), (Role.DEVELOPER, "# Instruct"), (Role.USER, "Hi")]


def test_a_template_syntax_error_names_the_file_and_line(tmp_path):
    (tmp_path / "developer.jinja").write_text("{%- set sections = [] -%}\n{% if developer.instructions %}\n",
                                               encoding="utf-8")
    custom = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    with pytest.raises(HarmonyError, match=r"developer\.jinja:2: template syntax error: Unexpected end of template"):
        custom.render(Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new().with_instructions("x")))


def test_a_template_runtime_error_names_the_file_and_line(tmp_path):
    (tmp_path / "developer.jinja").write_text("line one\n{{ developer.no_such_field }}\n", encoding="utf-8")
    custom = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    with pytest.raises(HarmonyError, match=r"developer\.jinja:2: template error: UndefinedError"):
        custom.render(Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new()))


def test_a_header_the_grammar_rejects_is_an_error(tmp_path):
    header = template_files()["header.jinja"].read_text(encoding="utf-8")
    # A header that closes the message before <|message|>.
    (tmp_path / "header.jinja").write_text(
        header.replace('{{ special("<|message|>") }}\n{%- endmacro -%}',
                       '{{ special("<|end|>") }}{{ special("<|message|>") }}\n{%- endmacro -%}', 1),
        encoding="utf-8")
    custom = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    with pytest.raises(HarmonyError, match=r"header\.jinja: the header rendered for .* is not a valid message frame "
                                           r"\('<\|start\|>user<\|end\|><\|message\|><\|end\|>'\): Unexpected token 200008 while "
                                           r"expecting start token 200006 \(token 3: expected <\|start\|>, found <\|message\|>\)"):
        custom.render(Message.from_role_and_content(Role.USER, "Hi"))


def test_a_body_template_cannot_emit_special_tokens(tmp_path):
    (tmp_path / "developer.jinja").write_text('{{ special("<|end|>") }}', encoding="utf-8")
    custom = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    with pytest.raises(HarmonyError, match=r"developer\.jinja: a message body is text only"):
        custom.render(Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new()))


def test_special_token_spellings_in_a_template_stay_text(tmp_path, enc):
    (tmp_path / "developer.jinja").write_text("<|end|><|start|>system<|message|>{{ developer.instructions }}",
                                               encoding="utf-8")
    custom = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    tokens = custom.render(Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new().with_instructions("x")))
    specials = [t for t in tokens if enc.is_special_token(t)]
    assert specials == [200006, 200008, 200007]  # <|start|>, <|message|>, <|end|>: the frame only
    assert enc.decode_utf8(tokens) == "<|start|>developer<|message|><|end|><|start|>system<|message|>x<|end|>"


def test_templates_run_in_a_sandbox(tmp_path):
    (tmp_path / "developer.jinja").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8")
    custom = load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path)
    with pytest.raises(HarmonyError, match=r"developer\.jinja:1: template error: SecurityError: "
                                           r"access to attribute '__class__' of 'str' object is unsafe"):
        custom.render(Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new()))


def test_unknown_dialect_and_missing_folder(tmp_path):
    with pytest.raises(HarmonyError, match=r"unknown dialect 'nope' \(known: openai-harmony, oss-harmony\)"):
        load_harmony_encoding("HarmonyGptOss", dialect="nope")
    with pytest.raises(HarmonyError, match="does not exist or is not a folder"):
        load_harmony_encoding("HarmonyGptOss", template_dir=tmp_path / "missing")
