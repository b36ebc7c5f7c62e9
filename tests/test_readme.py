"""The README's Python examples run as written and print exactly what the README shows."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"

# A ```python block, optionally followed by "prints" and a ```text block.
BLOCK = re.compile(r"```python\n(?P<code>(?:(?!```).)*)```\n(?:\nprints\n\n```text\n(?P<printed>.*?)```\n)?", re.S)


def blocks() -> list[tuple[int, str, str | None]]:
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m["code"], m["printed"]) for m in BLOCK.finditer(text)]


def test_readme_python_blocks_print_what_they_say(capsys):
    found = blocks()
    assert len(found) >= 5 and sum(p is not None for _, _, p in found) >= 4
    namespace: dict[str, object] = {"__name__": "readme"}
    for line, code, printed in found:  # in order, sharing names, as a reader would paste them
        # Pad so tracebacks show README line numbers.
        exec(compile("\n" * line + code, str(README), "exec"), namespace)
        out = capsys.readouterr().out
        if printed is not None:
            assert out == printed, f"README.md:{line}: the block prints something else"


def test_readme_shows_the_chat_mapping_table():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### The mapping"):text.index("### Lenient parsing")]
    for field in ("`system`", "`tools`", "`response_format`", "`reasoning_content`", "`tool_calls`",
                  "`tool_call_id`", "`user`", "`content`"):
        assert field in section
