"""The built distributions: the wheel carries the data folders inside the package, works
when installed into a fresh virtual environment, and the sdist rebuilds the same wheel.

These tests reach PyPI (the isolated build backend, and the runtime dependencies of
the fresh environment) and take about a minute; deselect with ``-m 'not slow'``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from harmony_grammar import Conversation, Role
from example_render import EXAMPLE, EXPECTED_RENDER

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
NAME = "harmony_grammar"
VERSION = "0.1.0"

REQUIRED_IN_WHEEL = [
    "harmony_grammar/__init__.py",
    "harmony_grammar/cli/__init__.py",
    "harmony_grammar/cli/io.py",
    "harmony_grammar/example.py",
    "harmony_grammar/engine/encoding.py",
    "harmony_grammar/format/tokens.py",
    "harmony_grammar/__main__.py",
    "harmony_grammar/py.typed",
    "harmony_grammar/vocab/o200k_base.ranks",
    "harmony_grammar/grammar/tokens.json",
    "harmony_grammar/templates/dialects/oss-harmony/header.jinja",
    "harmony_grammar/templates/tools/browser.json",
    "harmony_grammar/examples/conversation.json",
    "harmony_grammar/examples/chat_cases.json",
]

REQUIRED_IN_SDIST = [
    "pyproject.toml",
    "README.md",
    "harmony_grammar/__init__.py",
    "harmony_grammar/py.typed",
    "harmony_grammar/vocab/o200k_base.ranks",
    "grammar/tokens.json",
    "templates/dialects/oss-harmony/header.jinja",
    "templates/tools/python.json",
    "tests/conftest.py",
    "tests/cli/test_main.py",
    "tests/example_render.py",
    "tests/golden/oss-harmony-0.0.11/test_simple_convo.txt",
    "tests/golden/openai-harmony-0.0.8/test_tool_response_parsing.txt",
    "scripts/make_golden.py",
    "scripts/golden_scenarios.json",
    "scripts/golden_worker.py",
    "examples/conversation.json",
    # what the README test and the benchmark tests read, so the suite runs from the sdist as from a clone
    ".ci/run",
    "benchmarks/compare.py",
    "benchmarks/workloads.py",
    "scripts/build_vocab.py",
    "BENCHMARKS.md",
    "SECURITY.md",
]

# Runs inside the fresh environment, from a directory outside the repository.
PROBE = r"""
import json, sys
import harmony_grammar
from harmony_grammar import Conversation, Message, Role, load_harmony_encoding
from harmony_grammar.example import example_conversation
from harmony_grammar.resources import data_dir

enc = load_harmony_encoding("HarmonyGptOss")
small = Conversation.from_messages([Message.from_role_and_content(Role.USER, "Hi")])
example = Conversation.from_json(sys.stdin.read())
print(json.dumps({
    "module": harmony_grammar.__file__,
    "grammar": str(data_dir("grammar")),
    "templates": str(data_dir("templates")),
    "examples": str(data_dir("examples")),
    "builtin_is_the_file": example_conversation() == example,
    "small": enc.render_conversation_for_completion(small, Role.ASSISTANT),
    "example": enc.render_conversation_for_completion(example, Role.ASSISTANT),
}))
"""


def _run(args: list[str], cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TIKTOKEN_ENCODINGS_BASE", "NO_COLOR")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, **kwargs)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _build_wheel(source: Path, out: Path) -> Path:
    _run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(out)])
    wheels = sorted(out.glob(f"{NAME}-{VERSION}-*.whl"))
    assert [w.name for w in wheels] == [f"{NAME}-{VERSION}-py3-none-any.whl"]
    return wheels[0]


def _data_files(folder: str) -> set[str]:
    """The files of ``grammar/`` or ``templates/`` in the checkout, as the wheel should name them."""
    base = ROOT / folder
    return {
        f"{NAME}/{folder}/{p.relative_to(base).as_posix()}"
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(ROOT, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtual environment (no system site-packages) with the wheel and its dependencies from PyPI."""
    where = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", str(where)])
    bindir = where / ("Scripts" if os.name == "nt" else "bin")
    _run([str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)])
    return where


def test_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"{NAME}-{VERSION}.dist-info/METADATA").decode()
        entry_points = archive.read(f"{NAME}-{VERSION}.dist-info/entry_points.txt").decode()
    for required in REQUIRED_IN_WHEEL:
        assert required in names, required
    assert _data_files("grammar") <= names
    assert _data_files("templates") <= names
    stray = sorted(n for n in names if not n.startswith((f"{NAME}/", f"{NAME}-{VERSION}.dist-info/")))
    assert stray == []
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    for requirement in ("Requires-Dist: lark", "Requires-Dist: tiktoken", "Requires-Dist: jinja2",
                        "Requires-Dist: pydantic>=2", "Requires-Python: >=3.10"):
        assert f"\n{requirement}\n" in metadata, requirement
    assert "harmony-grammar = harmony_grammar.cli:main" in entry_points


def test_installed_wheel_renders_outside_the_checkout(venv: Path, tmp_path: Path, enc) -> None:
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    proc = _run([str(python), "-c", PROBE], cwd=tmp_path, input=EXAMPLE.read_text(encoding="utf-8"))
    result = json.loads(proc.stdout)
    package = Path(result["module"]).parent
    assert package.resolve().is_relative_to(venv.resolve())
    assert result["grammar"] == str(package / "grammar")
    assert result["templates"] == str(package / "templates")
    assert result["examples"] == str(package / "examples")
    assert result["builtin_is_the_file"] is True
    assert result["small"] == [200006, 1428, 200008, 12194, 200007, 200006, 173781]
    example = Conversation.from_json(EXAMPLE.read_text(encoding="utf-8"))
    assert result["example"] == enc.render_conversation_for_completion(example, Role.ASSISTANT)


def test_installed_console_script(venv: Path, tmp_path: Path) -> None:
    script = venv / ("Scripts/harmony-grammar.exe" if os.name == "nt" else "bin/harmony-grammar")
    proc = _run([str(script), "render"], cwd=tmp_path)
    assert (proc.stdout, proc.stderr) == (EXPECTED_RENDER, "")


def test_sdist_rebuilds_the_same_wheel(tmp_path: Path, wheel: Path) -> None:
    # pip cannot build an sdist, so call the build backend directly, from a
    # private copy of hatchling that touches no environment.
    backend = tmp_path / "backend"
    _run([sys.executable, "-m", "pip", "install", "-q", "--target", str(backend), "hatchling"])
    build = ("import sys; from hatchling.build import build_sdist; "
             "print(build_sdist(sys.argv[1]))")
    out = tmp_path / "sdist"
    proc = subprocess.run([sys.executable, "-c", build, str(out)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(backend)}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sdist = out / proc.stdout.strip().splitlines()[-1]
    assert sdist.name == f"harmony_grammar-{VERSION}.tar.gz"
    prefix = f"harmony_grammar-{VERSION}/"
    with tarfile.open(sdist) as archive:
        names = {n[len(prefix):] for n in archive.getnames() if n.startswith(prefix)}
    for required in REQUIRED_IN_SDIST:
        assert required in names, required
    assert not any("__pycache__" in n or n.startswith((".git/", ".venv/")) for n in names)

    rebuilt = _build_wheel(sdist, tmp_path / "from-sdist")
    with zipfile.ZipFile(wheel) as a, zipfile.ZipFile(rebuilt) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
