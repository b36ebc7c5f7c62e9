"""Differential tests: parsing and streaming against oss-harmony 0.0.11, on generated completions.

About half the completions are well formed; the rest are mutated (tokens
deleted, inserted, replaced, truncated) or random. Both implementations run the
same cases through the same API calls (tests/oracle_worker.py); results must be
identical, errors included: a call fails where the reference's fails (for
streaming, on the same token), and our message starts with the reference's
exact text (then says where, in parentheses).
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


# HarmonyError and its subclasses (HeaderError, HarmonySyntaxError) all count as the reference's HarmonyError.
_HARMONY = frozenset({"HarmonyError", "HeaderError", "HarmonySyntaxError"})


def _agrees(ours: dict, theirs: dict) -> bool:
    """Values equal; errors of the same kind, ours starting with the reference's message; for a
    stream, the same snapshot after every token and the error (if any) raised by the same token."""
    if "error" in ours or "error" in theirs:
        if "error" not in ours or "error" not in theirs:
            return False
        same_kind = ours["error"] == theirs["error"] or {ours["error"], theirs["error"]} <= _HARMONY
        return same_kind and ours["message"].startswith(theirs["message"])
    if "steps" in ours and "steps" in theirs:
        return (ours["tokens"] == theirs["tokens"] and len(ours["steps"]) == len(theirs["steps"])
                and all(map(_agrees, ours["steps"], theirs["steps"])))
    return ours == theirs


def _compare(cases: list[dict], ours: list, theirs: list) -> list[str]:
    problems = []
    for case, a, b in zip(cases, ours, theirs):
        if not _agrees(a, b):
            problems.append(f"case {json.dumps(case)}\n  ours: {json.dumps(a)[:1500]}\n  reference: {json.dumps(b)[:1500]}")
    return problems


# The reference's wordings for strict errors (grammar, header, decoding): the generator must reach each.
WORDINGS = ("Unexpected token ", "Unexpected EOS while waiting for message header to complete", "Unknown role: ",
            "channel marker present but no channel value found in header", "message header did not contain a role",
            "could not decode header", "unexpected tokens remaining in message header: Some(",
            "Could not decode tokens: ")


def _assert_every_wording(errors: list[dict]) -> None:
    missing = [w for w in WORDINGS if not any(e["message"].startswith(w) for e in errors)]
    assert not missing, f"the generated cases reach none of the reference's errors starting {missing}"


def test_parse_matches_reference(oss_oracle):
    cases = _cases(20261124, N_COMPLETIONS, ("parse",))
    theirs = oss_oracle(cases)
    ours = oracle_worker.run_all("harmony_grammar", cases)
    problems = _compare(cases, ours, theirs)
    assert not problems, f"{len(problems)} of {len(cases)} differ; first:\n" + "\n".join(problems[:5])
    ok = sum(1 for r in theirs if "ok" in r)
    # The generator must produce both outcomes in quantity, and errors of every kind.
    assert len(cases) * 0.3 < ok < len(cases) * 0.8, ok
    _assert_every_wording([r for r in theirs if "error" in r])


def test_stream_matches_reference_after_every_token(oss_oracle):
    cases = _cases(7, N_STREAMED, ("stream",))
    theirs = oss_oracle(cases)
    ours = oracle_worker.run_all("harmony_grammar", cases)
    problems = _compare(cases, ours, theirs)
    assert not problems, f"{len(problems)} of {len(cases)} differ; first:\n" + "\n".join(problems[:3])
    steps = sum(len(r["steps"]) for r in theirs)
    assert steps > 10 * len(cases)
    _assert_every_wording([s for r in theirs for s in r["steps"] if "error" in s])


@pytest.mark.parametrize("ids", [[2**32], [-1], [200006, 2**40], [2**32 + 200006]])
def test_ids_the_reference_cannot_take_raise_harmony_error(enc, ids):
    # Both references raise OverflowError here ("out of range integral type conversion attempted",
    # from the Python-to-u32 conversion, not a harmony error), and TypeError for ids that are not
    # integers. We raise HarmonyError instead, with our own wording: it names the token and the range.
    from harmony_grammar import HarmonyError, StreamableParser

    with pytest.raises(HarmonyError, match=r"token \d+: id -?\d+ is out of range"):
        enc.parse_messages_from_completion_tokens(ids)
    parser = StreamableParser(enc, None)
    with pytest.raises(HarmonyError, match=r"token \d+: id -?\d+ is out of range \(token ids are 0\.\.4294967295\)"):
        for t in ids:
            parser.process(t)
