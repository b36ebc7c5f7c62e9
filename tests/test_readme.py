"""The README's Python examples run as written and print exactly what the README shows.

They run in order in one namespace, as a reader would paste them, in an empty
working directory; the ``render-dataset`` command of the training section runs
between them, where the README shows it.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

from optional import missing_reason, skip_or_fail

from harmony_grammar.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"

# A ```python block, or a ```sh block running render-dataset, each optionally followed by what it prints.
BLOCK = re.compile(
    r"```(?P<kind>python|sh)\n(?P<code>(?:(?!```).)*)```\n"
    r"(?:\nprints(?P<stream>, on stderr)?,?\n\n```text\n(?P<printed>.*?)```\n)?", re.S)


def blocks() -> list[tuple[int, str, str, str | None, bool]]:
    text = README.read_text(encoding="utf-8")
    out = []
    for m in BLOCK.finditer(text):
        if m["kind"] == "sh" and not m["code"].startswith("harmony-grammar render-dataset "):
            continue
        out.append((text.count("\n", 0, m.start()) + 1, m["kind"], m["code"], m["printed"], bool(m["stream"])))
    return out


def test_readme_examples_print_what_they_say(capsys, monkeypatch, tmp_path):
    found = blocks()
    kinds = [kind for _, kind, _, _, _ in found]
    assert kinds.count("python") >= 8 and kinds.count("sh") == 1
    codes = "".join(code for _, _, code, _, _ in found)
    for needed in ("conversation_from_chat", "ChatStreamAdapter", "with_response_format",
                   "render_conversation_for_training_with_mask", "load_dataset", "ray.data.read_text"):
        assert needed in codes
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    not_run = []
    for line, kind, code, printed, on_stderr in found:
        missing = [m for m in OPTIONAL if re.search(rf"^(?:import|from) {m}\b", code, re.M) and not available(m)]
        if missing:
            not_run.append(f"README.md:{line} ({missing_reason(missing[0])})")
            continue
        if kind == "python":
            # Pad so tracebacks show README line numbers.
            exec(compile("\n" * line + code, str(README), "exec"), namespace)
            status = 0
        else:
            status = main(shlex.split(code.strip())[1:])
        out, err = capsys.readouterr()
        assert status == 0, f"README.md:{line}"
        if printed is not None:
            assert (err if on_stderr else out) == printed, f"README.md:{line}: the block prints something else"
    assert (tmp_path / "train.tokens.jsonl").read_text(encoding="ascii").count("\n") == 100
    if "ray" in namespace:
        namespace["ray"].shutdown()  # type: ignore[attr-defined]
    if not_run:
        skip_or_fail(f"every other block ran as shown; not run: {'; '.join(not_run)}")


# The integrations some README blocks use; without them those blocks are left out and the test says so.
OPTIONAL = ("datasets", "ray")


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_readme_shows_the_chat_mapping_table():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### The mapping"):text.index("### Lenient parsing")]
    for field in ("`system`", "`tools`", "`response_format`", "`reasoning_content`", "`tool_calls`",
                  "`tool_call_id`", "`user`", "`content`"):
        assert field in section
