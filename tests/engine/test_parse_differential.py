"""Differential tests: parsing and streaming against oss-harmony 0.0.11, on generated completions.

About half the completions are well formed; the rest are mutated (tokens
deleted, inserted, replaced, truncated) or random. Both implementations run the
same cases through the same API calls (tests/oracle_worker.py); results must be
identical, errors included.
"""

from __future__ import annotations

import json
import random

import pytest

import generators
import oracle_worker
from harmony_grammar import load_harmony_encoding

N_COMPLETIONS = 1200
N_STREAMED = 600


def _cases(seed: int, n: int, ops: tuple[str, ...]) -> list[dict]:
    enc = load_harmony_encoding("HarmonyGptOss")
    encode = lambda s: enc.encode(s, allowed_special="all")  # noqa: E731
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        tokens, role = generators.parse_case_tokens(rng, encode, enc.tokenizer.encode_ordinary)
        for op in ops:
            for strict in (True, False):
                cases.append({"op": op, "tokens": tokens, "role": role, "strict": strict})
    return cases


def _outcome(result: dict) -> object:
    """What must agree: values exactly; for errors, only that the call failed with HarmonyError."""
    if "error" in result:
        # HarmonyError and its subclasses (HeaderError, HarmonySyntaxError) all count as HarmonyError.
        return "HarmonyError" if result["error"] in ("HarmonyError", "HeaderError", "HarmonySyntaxError") \
            else result["error"]
    if "steps" in result:
        return {"steps": [_outcome(s) if "error" in s else s for s in result["steps"]], "tokens": result["tokens"]}
    return result


def _compare(cases: list[dict], ours: list, theirs: list) -> list[str]:
    problems = []
    for case, a, b in zip(cases, ours, theirs):
        if _outcome(a) != _outcome(b):
            problems.append(f"case {json.dumps(case)}\n  ours: {json.dumps(a)[:1500]}\n  reference: {json.dumps(b)[:1500]}")
    return problems


def test_parse_matches_reference(oss_oracle):
    cases = _cases(20261124, N_COMPLETIONS, ("parse",))
    theirs = oss_oracle(cases)
    ours = oracle_worker.run_all("harmony_grammar", cases)
    problems = _compare(cases, ours, theirs)
    assert not problems, f"{len(problems)} of {len(cases)} differ; first:\n" + "\n".join(problems[:5])
    ok = sum(1 for r in theirs if "ok" in r)
    # The generator must produce both outcomes in quantity.
    assert len(cases) * 0.3 < ok < len(cases) * 0.8, ok


def test_stream_matches_reference_after_every_token(oss_oracle):
    cases = _cases(7, N_STREAMED, ("stream",))
    theirs = oss_oracle(cases)
    ours = oracle_worker.run_all("harmony_grammar", cases)
    problems = _compare(cases, ours, theirs)
    assert not problems, f"{len(problems)} of {len(cases)} differ; first:\n" + "\n".join(problems[:3])
    steps = sum(len(r["steps"]) for r in theirs)
    assert steps > 10 * len(cases)


@pytest.mark.parametrize("ids", [[2**32], [-1], [200006, 2**40], [2**32 + 200006]])
def test_ids_the_reference_cannot_take_raise_harmony_error(enc, ids):
    from harmony_grammar import HarmonyError, StreamableParser

    with pytest.raises(HarmonyError, match=r"token \d+: id -?\d+ is out of range"):
        enc.parse_messages_from_completion_tokens(ids)
    parser = StreamableParser(enc, None)
    with pytest.raises(HarmonyError, match=r"token \d+: id -?\d+ is out of range \(token ids are 0\.\.4294967295\)"):
        for t in ids:
            parser.process(t)
