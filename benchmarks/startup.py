"""Where a fresh process's time goes, phase by phase, through the first render and parse.

    python benchmarks/startup.py              # median of 9 fresh processes
    python benchmarks/startup.py --runs 21

Each phase runs in a new process, in the order a program meets them; ``first
render`` and ``first parse`` include loading lark and Jinja2 and their compiled
forms (from the cache folder when it has them; ``--no-cache`` turns it off).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import gc, json, sys, time
sys.path.insert(0, sys.argv[1])
marks = [("start", time.perf_counter())]
def mark(name):
    marks.append((name, time.perf_counter()))
import harmony_grammar as h
mark("import harmony_grammar (pydantic, tiktoken, the model)")
from harmony_grammar.format import tokens
table = tokens.TokenTable.load()
collecting = gc.isenabled(); gc.disable()
pieces = tokens._read_vocab(table)
mark("read the bundled vocabulary and check its sha256")
ranks = dict(zip(pieces, range(len(pieces))))
mark("the rank dict")
from tiktoken._tiktoken import CoreBPE
CoreBPE(ranks, table.all_special(), table.pattern)
mark("tiktoken's CoreBPE (the same one load_tokenizer builds)")
del ranks
tokens.load_tokenizer()
if collecting: gc.enable()
mark("load_tokenizer (its own CoreBPE and tables)")
enc = h.load_harmony_encoding("HarmonyGptOss")
mark("load_harmony_encoding on top")
import workloads
convo = workloads.conversation(h, turns=20)
mark("build b's conversation (pydantic validators on first use)")
out = enc.render_conversation_for_completion(convo, h.Role.ASSISTANT)
mark("first render (lark, Jinja2, grammar, templates)")
enc.parse_messages_from_completion_tokens(out[:-2], None)
mark("first parse")
print(json.dumps([(name, t - marks[i][1]) for i, (name, t) in enumerate(marks[1:])]))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--no-cache", action="store_true", help="compile grammar and templates in every process")
    args = ap.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TIKTOKEN_ENCODINGS_BASE")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent)
    if args.no_cache:
        env["HARMONY_GRAMMAR_CACHE"] = ""
    runs = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT)], capture_output=True, text=True, env=env,
                             check=True)
        runs.append(json.loads(out.stdout))
    total = 0.0
    print(f"{'phase':<60} {'ms':>8}")
    for i, (name, _) in enumerate(runs[0]):
        value = statistics.median(run[i][1] for run in runs) * 1000
        total += value
        print(f"{name:<60} {value:>8.1f}")
    print(f"{'sum of the medians':<60} {total:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
