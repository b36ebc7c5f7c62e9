"""Differential rendering: seeded generated cases through harmony_grammar and oss-harmony 0.0.11.

Both sides run the same ``oracle_worker.run_case`` calls (the reference in its
own virtual environment, through the ``oss_oracle`` fixture). A case agrees
when both render the same tokens, or both fail with compatible errors:

* reference ``RuntimeError``/``HarmonyError``  <->  our ``HarmonyError``;
* ``ValidationError``  <->  ``ValidationError``;
* reference ``ValueError``  <->  our ``HarmonyError`` that is also a ``ValueError``, or ``ValidationError``;
* reference crashes on malformed data (``KeyError``, ``TypeError``, ``AttributeError``)  <->  our
  ``HarmonyDataError`` or ``ValidationError`` (harmony_grammar names the field instead).
"""

from __future__ import annotations

import json
import random

import pytest
from pydantic import ValidationError

import generators
import harmony_grammar
import oracle_worker
from harmony_grammar.resources import load_json

SEEDS = (1101, 2202, 3303, 4404)
CASES_PER_SEED = 600
MIN_CASES = 2000
SHOW = 5


def _cases() -> list[dict]:
    builtin = {name: load_json("templates", "tools", f"{name}.json") for name in ("browser", "python")}
    cases = []
    for seed in SEEDS:
        rng = random.Random(seed)
        cases.extend(generators.render_case(rng, builtin) for _ in range(CASES_PER_SEED))
    return cases


@pytest.fixture(scope="module")
def results(oss_oracle):
    cases = _cases()
    ours = oracle_worker.run_all("harmony_grammar", cases)
    theirs = oss_oracle(cases)
    assert len(ours) == len(theirs) == len(cases)
    return cases, ours, theirs


def _our_class(name: str) -> type:
    if name == "ValidationError":
        return ValidationError
    found = getattr(harmony_grammar, name, None)
    return found if isinstance(found, type) else type(name, (Exception,), {})


def compatible_errors(theirs: str, ours: str) -> bool:
    """Whether our error type answers the reference's (see the module docstring)."""
    cls = _our_class(ours)
    ours_harmony = issubclass(cls, harmony_grammar.HarmonyError)
    if theirs in ("RuntimeError", "HarmonyError"):
        return ours_harmony
    if theirs == "ValidationError":
        return cls is ValidationError
    if theirs in ("ValueError", "JSONDecodeError"):
        return (ours_harmony and issubclass(cls, ValueError)) or cls is ValidationError
    if theirs in ("KeyError", "TypeError", "AttributeError"):
        return issubclass(cls, harmony_grammar.HarmonyDataError) or cls is ValidationError
    return False


def agree(ours: dict, theirs: dict) -> bool:
    if "ok" in theirs or "ok" in ours:
        return ours.get("ok") == theirs.get("ok") and "ok" in ours and "ok" in theirs
    return compatible_errors(theirs["error"], ours["error"])


def test_compatible_error_rules():
    assert compatible_errors("RuntimeError", "HarmonyError")
    assert compatible_errors("HarmonyError", "HarmonyDataError")
    assert compatible_errors("ValidationError", "ValidationError")
    assert compatible_errors("ValueError", "HarmonyDataError")
    assert compatible_errors("ValueError", "ValidationError")
    assert not compatible_errors("ValueError", "HarmonyError")  # not a ValueError
    assert not compatible_errors("ValidationError", "HarmonyError")
    assert not compatible_errors("RuntimeError", "ValidationError")
    assert not compatible_errors("RuntimeError", "KeyError")
    assert not compatible_errors("KeyError", "KeyError")


def test_generated_cases_are_deterministic():
    first, second = _cases(), _cases()
    assert len(first) >= MIN_CASES
    assert json.dumps(first) == json.dumps(second)


def test_rendering_matches_reference(results):
    cases, ours, theirs = results
    bad = [i for i, (a, b) in enumerate(zip(ours, theirs)) if not agree(a, b)]
    for i in bad[:SHOW]:
        print(f"--- case {i} (seed {SEEDS[i // CASES_PER_SEED]}, #{i % CASES_PER_SEED})")
        print("case:      ", json.dumps(cases[i], ensure_ascii=False))
        print("ours:      ", json.dumps(ours[i], ensure_ascii=False))
        print("reference: ", json.dumps(theirs[i], ensure_ascii=False))
    assert not bad, f"{len(bad)} of {len(cases)} cases differ from oss-harmony (first {SHOW} printed above)"


def test_generated_cases_mostly_render(results):
    cases, ours, theirs = results
    ok_theirs = sum("ok" in r for r in theirs)
    ok_ours = sum("ok" in r for r in ours)
    assert ok_theirs >= 0.8 * len(cases), f"only {ok_theirs} of {len(cases)} cases render in the reference"
    assert ok_ours >= 0.8 * len(cases), f"only {ok_ours} of {len(cases)} cases render in harmony_grammar"


def test_generated_cases_cover_every_mode(results):
    cases, _, theirs = results
    kinds = {("render" if c["op"] == "render" else c["mode"]) for c, r in zip(cases, theirs) if "ok" in r}
    assert kinds == {"render", "completion", "training", "conversation"}
