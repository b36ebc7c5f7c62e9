"""``harmony_grammar.compat.install()``: ``import openai_harmony`` gives harmony_grammar.

Every scenario runs in a fresh interpreter, so what one puts in ``sys.modules`` never reaches another.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import harmony_grammar
from harmony_grammar.compat import EXPORTS

ROOT = Path(harmony_grammar.__file__).resolve().parent.parent

REFUSAL = ("openai_harmony is already imported from /x/openai_harmony/__init__.py; "
           "call harmony_grammar.compat.install() before anything imports openai_harmony")


def _run(code: str, *, path: str = "") -> object:
    """Run ``code`` in a fresh interpreter; what it prints last, as JSON."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), path) if p)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_import_openai_harmony_renders_with_harmony_grammar():
    assert _run("""
        import json, harmony_grammar.compat
        harmony_grammar.compat.install()
        import openai_harmony as h
        enc = h.load_harmony_encoding(h.HarmonyEncodingName.HARMONY_GPT_OSS)
        convo = h.Conversation.from_messages([h.Message.from_role_and_content(h.Role.USER, "Hi")])
        print(json.dumps(enc.render_conversation_for_completion(convo, h.Role.ASSISTANT)))
    """) == [200006, 1428, 200008, 12194, 200007, 200006, 173781]


def test_the_alias_is_harmony_grammar_and_exports_what_the_reference_does():
    names, same, spec, file, star, lazy_before = _run("""
        import json, sys, importlib.util, harmony_grammar, harmony_grammar.compat
        harmony_grammar.compat.install()
        lazy_before = "harmony_grammar.engine.stream" in sys.modules
        import openai_harmony
        from openai_harmony import StreamableParser, Role
        names = [n for n in harmony_grammar.compat.EXPORTS + ("ReasoningEffort", "ToolNamespaceConfig",
                 "ChannelConfig", "RenderConversationConfig", "RenderOptions")
                 if getattr(openai_harmony, n) is not getattr(harmony_grammar, n)]
        star = {}
        exec("from openai_harmony import *", star)
        print(json.dumps([names, [openai_harmony.Message is harmony_grammar.Message,
                                  StreamableParser is harmony_grammar.StreamableParser,
                                  Role is harmony_grammar.Role, openai_harmony.__name__ == "openai_harmony"],
                          importlib.util.find_spec("openai_harmony").name, openai_harmony.__file__,
                          sorted(n for n in star if n != "__builtins__"), lazy_before]))
    """)
    assert names == []
    assert same == [True, True, True, True]
    assert spec == "openai_harmony" and file == harmony_grammar.__file__
    assert star == sorted(EXPORTS)
    assert lazy_before is False  # install() loads nothing beyond the core


def test_install_is_idempotent_and_uninstall_removes_it():
    assert _run("""
        import json, sys, harmony_grammar.compat as c
        first = c.install()
        again = c.install()
        import openai_harmony
        out = [first is again, openai_harmony is first]
        c.uninstall()
        out.append("openai_harmony" in sys.modules)
        c.uninstall()  # nothing installed: nothing to do
        out.append(c.install() is not first)
        print(json.dumps(out))
    """) == [True, True, False, True]


def test_install_never_imports_a_real_openai_harmony(tmp_path):
    real = tmp_path / "openai_harmony"
    real.mkdir()
    (real / "__init__.py").write_text("raise SystemExit('the real openai_harmony was imported')\n")
    assert _run("""
        import json, harmony_grammar, harmony_grammar.compat
        harmony_grammar.compat.install()
        import openai_harmony
        print(json.dumps(openai_harmony.Role is harmony_grammar.Role))
    """, path=str(tmp_path)) is True


def test_install_refuses_when_a_real_openai_harmony_is_imported():
    assert _run("""
        import json, sys, types, harmony_grammar, harmony_grammar.compat
        real = types.ModuleType("openai_harmony")
        real.__file__ = "/x/openai_harmony/__init__.py"
        sys.modules["openai_harmony"] = real
        try:
            harmony_grammar.compat.install()
        except harmony_grammar.HarmonyError as exc:
            message = str(exc)
        harmony_grammar.compat.uninstall()  # not ours: left alone
        print(json.dumps([message, sys.modules["openai_harmony"] is real]))
    """) == [REFUSAL, True]


def test_install_refuses_to_change_recover_in_place():
    assert _run("""
        import json, harmony_grammar, harmony_grammar.compat as c
        c.install()
        try:
            c.install(recover=True)
        except harmony_grammar.HarmonyError as exc:
            print(json.dumps(str(exc)))
    """) == ("openai_harmony is already installed with recover=False; "
             "call harmony_grammar.compat.uninstall() first to change it")


def test_recover_passes_through_to_the_parser_and_needs_the_parameter():
    """With a stand-in base class, whichever way the real one is today."""
    assert _run("""
        import json, sys, harmony_grammar, harmony_grammar.compat as c

        class WithRecover:
            def __init__(self, encoding, role, *, strict=True, recover=False):
                self.args = [encoding, role, strict, recover]

        class WithoutRecover:
            def __init__(self, encoding, role, *, strict=True):
                pass

        harmony_grammar.StreamableParser = WithoutRecover
        try:
            c.install(recover=True)
        except harmony_grammar.HarmonyError as exc:
            out = [str(exc), "openai_harmony" in sys.modules]
        harmony_grammar.StreamableParser = WithRecover
        c.install(recover=True)
        from openai_harmony import StreamableParser
        out += [StreamableParser("enc", role="assistant").args, StreamableParser("enc", None, recover=False).args,
                StreamableParser("enc", None, strict=False).args, issubclass(StreamableParser, WithRecover),
                repr(StreamableParser)]
        print(json.dumps(out))
    """) == ["this harmony_grammar has no recovering StreamableParser", False,
             ["enc", "assistant", True, True], ["enc", None, True, False], ["enc", None, False, True], True,
             "<class 'openai_harmony.StreamableParser'>"]


def test_recover_true_recovers_from_malformed_output():
    import inspect

    if "recover" not in inspect.signature(harmony_grammar.StreamableParser.__init__).parameters:
        pytest.skip("harmony_grammar.StreamableParser has no recover parameter yet")
    raised, diagnosed, is_subclass = _run("""
        import json, harmony_grammar, harmony_grammar.compat
        harmony_grammar.compat.install(recover=True)
        from openai_harmony import HarmonyEncodingName, Role, StreamableParser, load_harmony_encoding
        enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
        # A second <|message|> where a message must begin with <|start|>.
        tokens = [200005, 17196, 200008, 12194, 200007, 200008, 188183, 200007]
        strict = harmony_grammar.StreamableParser(enc, Role.ASSISTANT)
        try:
            for t in tokens:
                strict.process(t)
            raised = False
        except harmony_grammar.HarmonyError:
            raised = True
        parser = StreamableParser(enc, role=Role.ASSISTANT)
        for t in tokens:
            parser.process(t)
        parser.process_eos()
        print(json.dumps([raised, bool(parser.diagnostics),
                          issubclass(StreamableParser, harmony_grammar.StreamableParser)]))
    """)
    assert (raised, diagnosed, is_subclass) == (True, True, True)


# Written as vLLM's harmony code is: the names it imports, the calls it makes.
VLLM_LIKE = """
import json

from openai_harmony import (
    Author,
    Conversation,
    DeveloperContent,
    HarmonyEncodingName,
    Message,
    ReasoningEffort,
    Role,
    StreamableParser,
    SystemContent,
    TextContent,
    ToolDescription,
    load_harmony_encoding,
)

encoding = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
system = (SystemContent.new()
          .with_reasoning_effort(ReasoningEffort.LOW)
          .with_conversation_start_date("2025-06-28"))
tool = ToolDescription.new(
    "get_weather", "Gets the current weather.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
developer = DeveloperContent.new().with_instructions("Be brief.").with_function_tools([tool])
convo = Conversation.from_messages([
    Message.from_role_and_content(Role.SYSTEM, system),
    Message.from_role_and_content(Role.DEVELOPER, developer),
    Message.from_role_and_content(Role.USER, "Weather in Paris?"),
])
prompt = encoding.render_conversation_for_completion(convo, Role.ASSISTANT)

completion = encoding.encode(
    "<|channel|>analysis<|message|>Need the tool.<|end|>"
    "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
    '{"city": "Paris"}<|call|>', allowed_special="all")
parser = StreamableParser(encoding, role=Role.ASSISTANT)
deltas = []
for token in completion:
    parser.process(token)
    if parser.last_content_delta:
        deltas.append([parser.current_channel, parser.current_recipient, parser.last_content_delta])
result = Message.from_author_and_content(
    Author.new(Role.TOOL, "functions.get_weather"), TextContent(text='{"temp_c": 21}')
).with_channel("commentary").with_recipient("assistant")
follow_up = encoding.render_conversation_for_completion(
    Conversation.from_messages([*convo.messages, *parser.messages, result]), Role.ASSISTANT)
print(json.dumps({
    "prompt": encoding.decode_utf8(prompt),
    "prompt_head": prompt[:8],
    "messages": [m.to_dict() for m in parser.messages],
    "deltas": deltas,
    "state": str(parser.state),
    "follow_up_tail": encoding.decode_utf8(follow_up[len(prompt):]),
    "stop": encoding.stop_tokens_for_assistant_actions(),
}))
"""

# What oss-harmony 0.0.11 prints for VLLM_LIKE.
VLLM_LIKE_PRINTS = {
    "prompt": (
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
        "Knowledge cutoff: 2024-06\nCurrent date: 2025-06-28\n\nReasoning: low\n\n"
        "# Valid channels: analysis, commentary, final. Channel must be included for every message.\n"
        "Calls to these tools must go to the commentary channel: 'functions'.<|end|>"
        "<|start|>developer<|message|># Instructions\n\nBe brief.\n\n# Tools\n\n## functions\n\n"
        "namespace functions {\n\n// Gets the current weather.\ntype get_weather = (_: {\ncity: string,\n})"
        " => any;\n\n} // namespace functions<|end|><|start|>user<|message|>Weather in Paris?<|end|>"
        "<|start|>assistant"),
    "prompt_head": [200006, 17360, 200008, 3575, 553, 17554, 162016, 11],
    "messages": [
        {"role": "assistant", "name": None, "content": [{"type": "text", "text": "Need the tool."}],
         "channel": "analysis"},
        {"role": "assistant", "name": None, "content": [{"type": "text", "text": '{"city": "Paris"}'}],
         "channel": "commentary", "recipient": "functions.get_weather", "content_type": "<|constrain|>json"},
    ],
    "deltas": [["analysis", None, piece] for piece in ("Need", " the", " tool", ".")]
    + [["commentary", "functions.get_weather", piece] for piece in ('{"', "city", '":', ' "', "Paris", '"}')],
    "state": "StreamState.EXPECT_START",
    "follow_up_tail": (
        "<|channel|>analysis<|message|>Need the tool.<|end|><|start|>assistant<|channel|>commentary "
        'to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>'
        "<|start|>functions.get_weather<|channel|>commentary to=assistant<|message|>"
        '{"temp_c": 21}<|end|><|start|>assistant'),
    "stop": [200002, 200012],
}


def test_a_vllm_style_caller_runs_unchanged():
    assert _run("import harmony_grammar.compat\nharmony_grammar.compat.install()\n" + VLLM_LIKE) \
        == VLLM_LIKE_PRINTS
