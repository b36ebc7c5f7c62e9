"""The tests need nothing beside the checkout: no file refers to a sibling folder of the checkout's
(the workplace's shared one), and the golden files are in tests/golden, one per scenario and reference, as
scripts/make_golden.py has the references render them."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

import reference
from conftest import GOLDEN

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scripts" / "golden_scenarios.json"
ORACLES = {"oss-harmony": "oss_oracle", "openai-harmony": "openai_oracle"}

# A path to the sibling folder: its name as a string (Path(...) / NAME), ../NAME, NAME/golden. The name is
# spelled in pieces so that this file does not name the path it looks for.
NAME = "sha" + "red"
SHARED = re.compile(rf"""(["']){NAME}\1|\.\.[/\\]+{NAME}\b|\b{NAME}[/\\]+golden\b""")


def _texts():
    for folder in ("tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path == Path(__file__).resolve():
                continue
            try:
                yield path, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue


def test_the_pattern_finds_what_it_should():
    up, sibling = "..", f"{NAME}/golden"
    for text in (f'GOLDEN = ROOT.parent / "{NAME}" / "golden"', f"open('{up}/{sibling}/x.txt')",
                 f"see {up}\\{NAME}", f'os.path.join(up, "{NAME}", "golden")', f"/work/{sibling}/"):
        assert SHARED.search(text), text
    for text in (f"one {NAME} HarmonyEncoding", f"test_system_content_defaults_are_not_{NAME}", f"{NAME}_state"):
        assert not SHARED.search(text), text


def test_no_file_refers_to_a_shared_folder():
    found = [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
             for path, text in _texts() for m in SHARED.finditer(text)]
    assert found == []


@pytest.mark.parametrize("key", sorted(reference.REFERENCES))
def test_every_scenario_has_its_golden_file(key):
    ref = reference.REFERENCES[key]
    folder = GOLDEN / f"{ref.dist}-{ref.version}"
    expected = {f"{name}.txt" for name in json.loads(SCENARIOS.read_text(encoding="utf-8"))["scenarios"]}
    assert folder.is_dir(), f"{folder} is missing: run scripts/make_golden.py"
    assert {p.name for p in folder.iterdir()} == expected, "run scripts/make_golden.py"


@pytest.mark.parametrize("key", sorted(reference.REFERENCES))
def test_the_golden_files_are_what_the_reference_renders(key, request):
    request.getfixturevalue(ORACLES[key])  # skips (or fails) as the differential tests do without the reference
    spec = importlib.util.spec_from_file_location("make_golden", ROOT / "scripts" / "make_golden.py")
    make_golden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_golden)
    scenarios = json.loads(SCENARIOS.read_text(encoding="utf-8"))["scenarios"]
    rendered = make_golden.render(key, scenarios)
    assert make_golden.differences(GOLDEN / make_golden.folder(key), rendered) == [], "run scripts/make_golden.py"
