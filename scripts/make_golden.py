"""Regenerates the golden files in tests/golden from the reference implementations.

    python scripts/make_golden.py            # write tests/golden/<dist>-<version>/<name>.txt
    python scripts/make_golden.py --check    # compare only; exit 1 on a difference

The scenarios are data (golden_scenarios.json, next to this script). Each
reference (oss-harmony 0.0.11, openai-harmony 0.0.8) is installed from PyPI
into its own virtual environment by tests/reference.py and renders them with
golden_worker.py in a subprocess; it is never imported here. Run it with an
interpreter that can import harmony_grammar (the checkout's venv): the
openai-harmony reference reads its vocabulary from the bundled copy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import reference  # noqa: E402

SCENARIOS = HERE / "golden_scenarios.json"
WORKER = HERE / "golden_worker.py"
GOLDEN = ROOT / "tests" / "golden"


def folder(key: str) -> str:
    """The folder of one reference's files: <dist>-<version>."""
    ref = reference.REFERENCES[key]
    return f"{ref.dist}-{ref.version}"


def scenarios_for(key: str, scenarios: dict[str, dict]) -> list[dict]:
    """The scenarios as the worker takes them, with this reference's trailer."""
    cases = []
    for name, scenario in sorted(scenarios.items()):
        trailer = scenario.get("trailer", "")
        cases.append({**scenario, "name": name, "trailer": trailer if isinstance(trailer, str) else trailer.get(key, "")})
    return cases


def render(key: str, scenarios: dict[str, dict]) -> dict[str, str]:
    """Every golden file's text for one reference, by file name."""
    python, why = reference.ensure(key)
    if python is None:
        raise SystemExit(f"make_golden: reference {key} unavailable: {why}")
    cases = scenarios_for(key, scenarios)
    texts = reference.run(key, python, cases, worker=WORKER)
    return {f"{case['name']}.txt": text for case, text in zip(cases, texts)}


def differences(directory: Path, files: dict[str, str]) -> list[str]:
    """How directory differs from the expected files (missing, differing or unexpected .txt files)."""
    found = {p.name for p in directory.glob("*.txt")} if directory.is_dir() else set()
    problems = [f"{directory / name}: missing" for name in sorted(set(files) - found)]
    problems += [f"{directory / name}: differs" for name in sorted(set(files) & found)
                 if (directory / name).read_bytes() != files[name].encode("utf-8")]
    problems += [f"{directory / name}: not produced by any scenario" for name in sorted(found - set(files))]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk; write nothing")
    parser.add_argument("--golden", type=Path, default=GOLDEN, help=f"the golden folder (default: {GOLDEN})")
    parser.add_argument("--reference", choices=sorted(reference.REFERENCES), action="append",
                        help="only this reference (repeatable; default: all)")
    args = parser.parse_args(argv)
    scenarios = json.loads(SCENARIOS.read_text(encoding="utf-8"))["scenarios"]
    problems = []
    for key in args.reference or sorted(reference.REFERENCES):
        directory = args.golden / folder(key)
        files = render(key, scenarios)
        if args.check:
            problems += differences(directory, files)
            continue
        directory.mkdir(parents=True, exist_ok=True)
        for stale in sorted(set(p.name for p in directory.glob("*.txt")) - set(files)):
            (directory / stale).unlink()
        for name, text in files.items():
            (directory / name).write_bytes(text.encode("utf-8"))
        print(f"wrote {len(files)} files to {directory}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.check and not problems:
        print("golden files are up to date")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
