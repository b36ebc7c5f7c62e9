"""What recovery costs: on well-formed output against strict parsing, and on a malformed corpus.

    python benchmarks/recovery.py            # medians of 15 alternating repeats
    python benchmarks/recovery.py --quick    # tiny inputs (the test suite runs this)

Well-formed input is figure d's completion (about 5k tokens). The malformed
corpus is well-formed completions with the failures servers report spliced in
(a stop token after <|end|>, a header without <|start|>, repeated recipients,
<|start|><|start|>, an empty channel, a stop token in a header); strict parsing
raises on them, so their cost is given per token, for batch and streaming.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import workloads  # noqa: E402
from runner import _median_time  # noqa: E402

import harmony_grammar as h  # noqa: E402

SPLICES = ["<|end|><|return|>", "<|end|>", "<|call|>commentary to=functions.f", " to=functions.f to=functions.f",
           "<|start|><|start|>assistant", "<|channel|><|message|>", "final", "<|message|>"]


def _pair(first, second, repeat: int) -> tuple[float, float]:
    """Medians of both, measured in alternation so that drift in the machine's speed hits both alike."""
    first(), second()
    a, b = [], []
    for _ in range(repeat):
        for fn, samples in ((first, a), (second, b)):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b)


def _stream(enc, tokens, recover: bool) -> None:
    parser = h.StreamableParser(enc, None, recover=recover)
    for token in tokens:
        parser.process(token)
    parser.process_eos()


def malformed_corpus(enc, n: int, seed: int = 5) -> list[list[int]]:
    rng = random.Random(seed)
    text = workloads.completion_text(rounds=1)
    base = enc.encode(text, allowed_special="all")
    out = []
    for _ in range(n):
        tokens = list(base)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randint(1, len(tokens))
            tokens[pos:pos] = enc.encode(rng.choice(SPLICES), allowed_special="all")
        out.append(tokens)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    enc = h.load_harmony_encoding(h.HarmonyEncodingName.HARMONY_GPT_OSS)
    tokens = enc.encode(workloads.completion_text(rounds=1 if args.quick else 10), allowed_special="all")
    rows = {}
    strict_batch, recover_batch = _pair(lambda: enc.parse_messages_from_completion_tokens(tokens, None),
                                        lambda: enc.recover_messages_from_completion_tokens(tokens, None), repeat)
    strict_stream, recover_stream = (t / len(tokens) for t in _pair(
        lambda: _stream(enc, tokens, False), lambda: _stream(enc, tokens, True), repeat))
    rows["well-formed, batch"] = (strict_batch, recover_batch, "s")
    rows["well-formed, per token"] = (strict_stream, recover_stream, "s/token")
    corpus = malformed_corpus(enc, 20 if args.quick else 200)
    n = sum(map(len, corpus))
    bad_batch = _median_time(lambda: [enc.recover_messages_from_completion_tokens(t, None) for t in corpus], repeat) / n
    bad_stream = _median_time(lambda: [_stream(enc, t, True) for t in corpus], repeat) / n
    repairs = sum(len(enc.recover_messages_from_completion_tokens(t, None).diagnostics) for t in corpus)
    print(f"well-formed: {len(tokens)} tokens; malformed: {len(corpus)} completions, {n} tokens, {repairs} repairs")
    print(f"{'what':<28} {'strict':>14} {'recover':>14} {'ratio':>6}")
    for what, (strict, recover, unit) in rows.items():
        scale, label = (1e3, "ms") if unit == "s" else (1e6, "µs/token")
        print(f"{what:<28} {strict * scale:>9.3f} {label:<4} {recover * scale:>9.3f} {label:<4} {recover / strict:>6.2f}")
    print(f"{'malformed, batch':<28} {'raises':>14} {bad_batch * 1e6:>9.3f} µs/token")
    print(f"{'malformed, per token':<28} {'raises':>14} {bad_stream * 1e6:>9.3f} µs/token")
    print(json.dumps({"batch_ratio": recover_batch / strict_batch, "token_ratio": recover_stream / strict_stream,
                      "malformed_batch_s_per_token": bad_batch, "malformed_stream_s_per_token": bad_stream}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
