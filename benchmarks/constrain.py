"""What constrained decoding costs: rendering and compiling the grammar, and llguidance's mask per token.

    python benchmarks/constrain.py            # 15 compiles, a ~500-token completion read 5 times, 32 sequences
    python benchmarks/constrain.py --quick    # tiny inputs (the test suite runs this)

The conversation is figure b's (benchmarks/workloads.py): a system message with
the browser and python tools and a developer message with 12 functions with
nested schemas. The completion is an analysis preamble followed by a call to one
of those functions with arguments for every property, about 500 tokens. Each
mask is computed before the token it allows is consumed, as a sampler does;
the batch figure computes the masks of 32 sequences at once with an
``llguidance.LLExecutor``. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import workloads  # noqa: E402

import harmony_grammar as h  # noqa: E402
from harmony_grammar.engine.constrain import lltokenizer  # noqa: E402

TARGETS = {"compile_ms": 10.0, "mask_p50_us": 20.0}


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def completion(enc, words: int, seed: int = 3) -> list[int]:
    """An analysis preamble of ``words`` words, then a call to functions.tool_3 with every property set."""
    rng = random.Random(seed)
    para = " ".join(rng.choice(workloads.WORDS) for _ in range(words))
    options = {"location": "Oakland, CA", "unit": "fahrenheit", "days": 2, "tags": ["bay", "fog"], "mode": 1.5}
    arguments = {"location": "San Francisco, CA", "unit": "celsius", "days": 5,
                 "tags": ["museums", "restaurants", "flights"], "mode": "fast",
                 "options": dict(options, options={"location": "Berkeley, CA", "days": 1})}
    text = (f"<|channel|>analysis<|message|>{para}<|end|><|start|>assistant"
            "<|channel|>commentary to=functions.tool_3 <|constrain|>json<|message|>"
            f"{json.dumps(arguments)}<|call|>")
    return enc.encode(text, allowed_special="all")


def _times(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return samples


def _batch(new_matcher, tokens: list[int], batch: int, masks, fill) -> list[float]:
    """The time of each ``fill(matchers)`` as ``batch`` sequences read ``tokens``, ``len(tokens)`` steps long.

    Sequence i starts i/batch of the way into the completion, and one that ends is replaced by a new one
    from ``new_matcher()`` (a new request, made outside the timing): the batch's steady state.
    """
    positions = [i * len(tokens) // batch for i in range(batch)]
    matchers = [new_matcher() for _ in range(batch)]
    for matcher, position in zip(matchers, positions):
        assert matcher.consume_tokens(tokens[:position])
    steps = []
    for _ in range(len(tokens)):
        t = time.perf_counter()
        fill(matchers)
        steps.append(time.perf_counter() - t)
        for i, matcher in enumerate(matchers):
            token = tokens[positions[i]]
            assert masks[i, token // 32] >> (token % 32) & 1 and matcher.consume_token(token)
            positions[i] += 1
            if positions[i] == len(tokens):
                matchers[i], positions[i] = new_matcher(), 0
    return steps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny inputs, one pass: a smoke test")
    ap.add_argument("--compiles", type=int, default=15)
    ap.add_argument("--passes", type=int, default=5, help="how many times the completion is read (default: 5)")
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args(argv)
    compiles, passes, batch = (3, 1, 4) if args.quick else (args.compiles, args.passes, args.batch)

    import llguidance
    import llguidance.numpy as llnp

    enc = h.load_harmony_encoding(h.HarmonyEncodingName.HARMONY_GPT_OSS)
    convo = workloads.conversation(h, turns=2 if args.quick else 20)

    t = time.perf_counter()
    tokenizer = lltokenizer(enc)
    tokenizer_s = time.perf_counter() - t

    enc.completion_grammar(convo)  # the first render loads the template
    texts = []
    for _ in range(compiles):
        t = time.perf_counter()
        grammar = enc.completion_grammar(convo)
        texts.append(time.perf_counter() - t)
    compiled = grammar.compile()
    builds, copies = [], []
    for _ in range(compiles):
        t = time.perf_counter()
        grammar.compile()
        builds.append(time.perf_counter() - t)
        t = time.perf_counter()
        compiled.deep_copy()
        copies.append(time.perf_counter() - t)

    # What the compile time grows with: the schemas. No calls at all, and one function's.
    narrower = {}
    for key, choice in (("none", "none"), ("named", {"name": "tool_3"})):
        other = enc.completion_grammar(convo, tool_choice=choice)
        other.compile()
        narrower[key] = statistics.median(_times(other.compile, compiles))

    tokens = completion(enc, 12 if args.quick else 330)
    if grammar.check(tokens) is not None:
        raise SystemExit(f"the grammar refuses the benchmark's completion at token {grammar.check(tokens)}")

    # One sequence, a fresh matcher per pass: each token's mask, then the token consumed, each timed. A pass
    # fills a preallocated array with fill_next_token_bitmask (as servers do), the next gets a bytes object
    # from compute_bitmask; each state's mask is computed once.
    mask = llnp.allocate_token_bitmask(1, tokenizer.vocab_size)
    fills, computes, consumes = [], [], []
    for _ in range(passes):
        for samples in (fills, computes):
            matcher = grammar.compile()
            for token in tokens:
                t0 = time.perf_counter()
                if samples is fills:
                    llnp.fill_next_token_bitmask(matcher, mask, 0)
                    t1 = time.perf_counter()
                    allowed = mask[0, token // 32] >> (token % 32) & 1
                else:
                    found = matcher.compute_bitmask()
                    t1 = time.perf_counter()
                    allowed = found[token // 8] >> (token % 8) & 1
                ok = matcher.consume_token(token)
                t2 = time.perf_counter()
                assert ok and allowed
                samples.append(t1 - t0)
                consumes.append(t2 - t1)

    # A batch in its steady state: one executor call per step fills every mask; new requests compile their
    # grammar, or copy one compiled matcher (they then share its lazily built lexer); for comparison, the
    # masks filled one by one.
    executor = llguidance.LLExecutor()
    masks = llnp.allocate_token_bitmask(batch, tokenizer.vocab_size)

    def par(matchers):
        llnp.fill_next_token_bitmask_par(executor, [(m, i) for i, m in enumerate(matchers)], masks)

    def one_by_one(matchers):
        for i, m in enumerate(matchers):
            llnp.fill_next_token_bitmask(m, masks, i)

    steps = _batch(grammar.compile, tokens, batch, masks, par)
    copied_steps = _batch(compiled.deep_copy, tokens, batch, masks, par)
    single_steps = _batch(grammar.compile, tokens, batch, masks, one_by_one)

    results = {
        "tokens": len(tokens),
        "text_ms": statistics.median(texts) * 1e3,
        "compile_ms": statistics.median(builds) * 1e3,
        "compile_none_ms": narrower["none"] * 1e3,
        "compile_named_ms": narrower["named"] * 1e3,
        "copy_us": statistics.median(copies) * 1e6,
        "tokenizer_ms": tokenizer_s * 1e3,
        "mask_p50_us": _percentile(fills, 0.5) * 1e6,
        "mask_p99_us": _percentile(fills, 0.99) * 1e6,
        "mask_mean_us": statistics.fmean(fills) * 1e6,
        "compute_bitmask_p50_us": _percentile(computes, 0.5) * 1e6,
        "compute_bitmask_p99_us": _percentile(computes, 0.99) * 1e6,
        "consume_p50_us": _percentile(consumes, 0.5) * 1e6,
        "consume_p99_us": _percentile(consumes, 0.99) * 1e6,
        "batch": batch,
        "batch_steps": len(steps),
        "batch_step_p50_us": _percentile(steps, 0.5) * 1e6,
        "batch_step_p99_us": _percentile(steps, 0.99) * 1e6,
    }
    results["batch_per_sequence_us"] = results["batch_step_p50_us"] / batch
    results["batch_copies_step_p50_us"] = _percentile(copied_steps, 0.5) * 1e6
    results["batch_copies_step_p99_us"] = _percentile(copied_steps, 0.99) * 1e6
    results["batch_one_by_one_step_p50_us"] = _percentile(single_steps, 0.5) * 1e6
    results["batch_one_by_one_step_p99_us"] = _percentile(single_steps, 0.99) * 1e6

    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"{llguidance.get_version()}")
    print(f"grammar: {len(grammar.text)} characters; completion: {len(tokens)} tokens, {passes} passes; "
          f"batch: {batch} sequences, {len(steps)} steps")
    rows = [
        ("grammar text (completion_grammar)", f"{results['text_ms']:.3f} ms", "", ""),
        ("compile (grammar.compile())", f"{results['compile_ms']:.3f} ms", "", "≤ 10 ms"),
        ("compile, tool_choice none", f"{results['compile_none_ms']:.3f} ms", "", ""),
        ("compile, tool_choice tool_3", f"{results['compile_named_ms']:.3f} ms", "", ""),
        ("copy of a compiled one (deep_copy)", f"{results['copy_us']:.1f} µs", "", ""),
        ("tokenizer (lltokenizer, once)", f"{results['tokenizer_ms']:.1f} ms", "", ""),
        ("mask (fill_next_token_bitmask)", f"{results['mask_p50_us']:.1f} µs", f"{results['mask_p99_us']:.1f} µs",
         "p50 ≤ 20 µs"),
        ("mask, mean", f"{results['mask_mean_us']:.1f} µs", "", ""),
        ("mask (compute_bitmask)", f"{results['compute_bitmask_p50_us']:.1f} µs",
         f"{results['compute_bitmask_p99_us']:.1f} µs", ""),
        ("consume_token", f"{results['consume_p50_us']:.1f} µs", f"{results['consume_p99_us']:.1f} µs", ""),
        (f"batch step, {batch} masks (_par)", f"{results['batch_step_p50_us']:.1f} µs",
         f"{results['batch_step_p99_us']:.1f} µs", ""),
        ("batch, per sequence", f"{results['batch_per_sequence_us']:.1f} µs", "", ""),
        (f"batch step, {batch} copies (_par)", f"{results['batch_copies_step_p50_us']:.1f} µs",
         f"{results['batch_copies_step_p99_us']:.1f} µs", ""),
        (f"batch step, {batch} masks one by one", f"{results['batch_one_by_one_step_p50_us']:.1f} µs",
         f"{results['batch_one_by_one_step_p99_us']:.1f} µs", ""),
    ]
    print(f"{'what':<36} {'p50':>12} {'p99':>12}  target")
    for what, p50, p99, target in rows:
        print(f"{what:<36} {p50:>12} {p99:>12}  {target}".rstrip())
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
