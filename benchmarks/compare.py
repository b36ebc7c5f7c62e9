"""harmony_grammar against oss-harmony 0.0.11 (Rust), in separate processes, alternating A B A B.

    python benchmarks/compare.py            # all figures, 3 rounds
    python benchmarks/compare.py --quick    # tiny inputs, one round (used by the test suite)

For each figure it prints the median of the rounds, the ratio ours/reference and
the peak RSS of each side. The reference runs in its own virtual environment
(../ref-oss, created from PyPI if missing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import reference  # noqa: E402

FIGURES = [
    ("a", "load_harmony_encoding, cold process", "lower"),
    ("a2", "cold process through the first render of b's conversation", "lower"),
    # Wall time of a whole process, timed from outside. Ours: the validate command; the
    # reference has no validator, so it loads, encodes the transcript and parses it.
    ("a3", "harmony-grammar validate, small transcript, whole process", "lower"),
    ("b", "render_conversation_for_completion, ~7k tokens", "lower"),
    ("c", "re-render after one more turn", "lower"),
    ("d", "parse_messages_from_completion_tokens, ~5k tokens", "lower"),
    ("e", "StreamableParser, per token", "lower"),
    ("f64", "render 64 KiB of '!'", "lower"),
    ("f256", "render 256 KiB of '!'", "lower"),
    ("g", "render_conversation_for_training throughput", "higher"),
    # JSONL in, training rows out. Ours: render-dataset (with loss masks); the reference has no
    # dataset tool, so it reads and renders the same lines in one process.
    ("h1", "JSONL -> training rows, 1 worker", "higher"),
    ("h2", "JSONL -> training rows, 2 workers (ref: 1 process)", "higher"),
]


TRANSCRIPT = ROOT / "examples" / "transcript.txt"


def run(python: str, module: str, figure: str, quick: bool) -> dict:
    env = dict(os.environ)
    env.pop("TIKTOKEN_ENCODINGS_BASE", None)
    if module == "harmony_grammar":
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if figure == "a3":
        return _whole_process(python, module, env)
    cmd = [python, str(HERE / "runner.py"), module, figure] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(f"{module} {figure} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _whole_process(python: str, module: str, env: dict) -> dict:
    """Figure a3: the wall time of one process, from its start to its exit."""
    if module == "harmony_grammar":
        cmd = [python, "-m", "harmony_grammar", "validate", str(TRANSCRIPT)]
    else:
        cmd = [python, str(HERE / "runner.py"), module, "a3", str(TRANSCRIPT)]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    elapsed = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"{module} a3 failed:\n{out.stderr[-3000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"value": elapsed, "unit": "s", "rss_mb": usage}


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.2f} ms"
    if unit == "s/token":
        return f"{value * 1e6:.2f} µs/token"
    return f"{value:,.0f} {unit}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="tiny inputs and one round (a smoke test)")
    ap.add_argument("--figures", default=",".join(f for f, _, _ in FIGURES))
    ap.add_argument("--json", action="store_true", help="print the results as JSON as well")
    args = ap.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    ref_python, why = reference.ensure("oss-harmony")
    if ref_python is None:
        print(f"reference unavailable: {why}", file=sys.stderr)
        return 2
    wanted = args.figures.split(",")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}, {platform.platform()}")
    print(f"{'figure':<6} {'what':<52} {'harmony_grammar':>18} {'oss-harmony':>18} {'ratio':>7} {'RSS MB ours/ref':>16}")
    results = {}
    for fig, what, better in FIGURES:
        if fig not in wanted:
            continue
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(run(sys.executable, "harmony_grammar", fig, args.quick))
            theirs.append(run(str(ref_python), "openai_harmony", fig, args.quick))
        o = statistics.median(r["value"] for r in ours)
        t = statistics.median(r["value"] for r in theirs)
        unit = ours[0]["unit"]
        ratio = o / t if better == "lower" else t / o
        rss_o = max(r["rss_mb"] for r in ours)
        rss_t = max(r["rss_mb"] for r in theirs)
        results[fig] = {"ours": o, "reference": t, "unit": unit, "ratio": ratio, "rss_ours_mb": rss_o, "rss_reference_mb": rss_t}
        print(f"{fig:<6} {what:<52} {fmt(o, unit):>18} {fmt(t, unit):>18} {ratio:>7.2f} {rss_o:>7.0f}/{rss_t:<7.0f}", flush=True)
    print("ratio = ours/reference time (for g: reference/ours throughput); below 1 means harmony_grammar is faster.")
    if "f64" in results and "f256" in results:
        growth = results["f256"]["ours"] / results["f64"]["ours"]
        print(f"f growth, 4x the text: {growth:.2f}x the time")
    if "h1" in results and "h2" in results:
        print(f"render-dataset: {results['h1']['ours']:,.0f} conv/s with 1 worker, {results['h2']['ours']:,.0f} "
              f"with 2 ({results['h2']['ours'] / results['h1']['ours']:.2f}x)")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
