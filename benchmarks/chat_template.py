"""What the exported Hugging Face chat template costs, next to ``enc.apply_chat_template``.

    python benchmarks/chat_template.py            # medians of 15 (exports) and 30 (renders)
    python benchmarks/chat_template.py --quick    # a short conversation, few repeats (the test suite runs this)

The chat is figure b's conversation as Chat Completions messages: a system
prompt, 12 functions with nested schemas, the browser and python tools and 20
turns of reasoning, a tool call, its result and an answer. Figures:

- export: ``export_chat_template`` (what ``enc.chat_template()`` does once per encoding);
- compile: the template's source compiled by the transformers-like sandbox (once per template);
- render: one render through the compiled template, in that sandbox and, when
  transformers is installed, through its ``render_jinja_template``;
- ``enc.apply_chat_template`` on the same chat, as text and as tokens;
- with ``--also TEMPLATE``, another template through transformers on the same chat.

Ratios are against ``enc.apply_chat_template(..., tokenize=False)``. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import workloads  # noqa: E402

import harmony_grammar as h  # noqa: E402
from harmony_grammar.integrations.chat_template.environment import compile_chat_template, render_chat_template  # noqa: E402
from harmony_grammar.integrations.chat_template.export import export_chat_template  # noqa: E402


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short conversation and few repeats")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line at the end")
    parser.add_argument("--also", metavar="TEMPLATE", help="also time another chat template on the same chat "
                        "(for example the official one), through transformers; its text is not compared")
    args = parser.parse_args(argv)
    turns, exports, renders = (2, 2, 3) if args.quick else (20, 15, 30)
    enc = h.load_harmony_encoding("HarmonyGptOss")
    messages, tools, keywords = workloads.chat(turns)
    text = enc.apply_chat_template(messages, tools, tokenize=False, **keywords)
    template = enc.chat_template()
    assert render_chat_template(template, messages, tools, **keywords) == text, "the template drifted"

    results: dict[str, float] = {
        "export_ms": _median_ms(lambda: export_chat_template(enc, "bench"), exports),
        "compile_ms": _median_ms(lambda: compile_chat_template(template + " " * 0, f"<bench {time.time()}>"), exports),
        "render_ms": _median_ms(lambda: render_chat_template(template, messages, tools, **keywords), renders),
        "apply_text_ms": _median_ms(lambda: enc.apply_chat_template(messages, tools, tokenize=False, **keywords), renders),
        "apply_tokens_ms": _median_ms(lambda: enc.apply_chat_template(messages, tools, **keywords), renders),
    }
    try:
        from transformers.utils.chat_template_utils import render_jinja_template
    except ImportError:
        render_jinja_template = None
    if render_jinja_template is not None:
        def through_transformers() -> str:
            out, _ = render_jinja_template([messages], tools=tools, chat_template=template, add_generation_prompt=True,
                                           **keywords)
            return out[0]

        assert through_transformers() == text, "transformers renders something else"
        results["transformers_render_ms"] = _median_ms(through_transformers, renders)
        if args.also:
            other = Path(args.also).read_text(encoding="utf-8")

            def other_through_transformers() -> str:
                out, _ = render_jinja_template([messages], tools=tools, chat_template=other,
                                               add_generation_prompt=True, **keywords)
                return out[0]

            results["also_transformers_render_ms"] = _median_ms(other_through_transformers, renders)

    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"chat: {len(messages)} messages, {len(tools)} tools, {len(text):,} characters, "
          f"{len(enc.encode(text, allowed_special='all')):,} tokens; template: {len(template):,} characters")
    base = results["apply_text_ms"]
    for name, value in results.items():
        print(f"{name:24} {value:9.2f} ms   {value / base:7.2f}x apply_chat_template(tokenize=False)")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
