"""The reference implementations, each in its own virtual environment, as an oracle for differential tests.

A reference is never imported here: it runs ``oracle_worker.py`` in a
subprocess. The virtual environment is created from PyPI on first use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "oracle_worker.py"


@dataclass(frozen=True)
class Reference:
    key: str
    requirement: str
    dist: str
    version: str
    default_dir: Path
    needs_vocab_dir: bool


REFERENCES = {
    "oss-harmony": Reference("oss-harmony", "oss-harmony==0.0.11", "oss-harmony", "0.0.11",
                             ROOT.parent / "ref-oss", False),
    "openai-harmony": Reference("openai-harmony", "openai-harmony==0.0.8", "openai-harmony", "0.0.8",
                                ROOT.parent / "ref-oh", True),
}

_ENV_DIRS = {"oss-harmony": "HARMONY_REF_OSS", "openai-harmony": "HARMONY_REF_OH"}


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _installed_version(python: Path, dist: str) -> str | None:
    try:
        probe = subprocess.run(
            [str(python), "-c", f"import importlib.metadata as m, openai_harmony; print(m.version({dist!r}))"],
            capture_output=True, text=True, timeout=120,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return probe.stdout.strip() if probe.returncode == 0 else None


def _last_line(output: str | bytes | None) -> str:
    """A tool's output reduced to its last meaningful line: the last one saying "error", else the last non-blank."""
    if isinstance(output, bytes):
        output = output.decode("utf-8", "replace")
    lines = [" ".join(line.split()) for line in (output or "").splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if line.lower().startswith("error")]
    return (errors or lines or [""])[-1]


def _one_line(reason: str) -> str:
    return " ".join(reason.split())


def ensure(key: str) -> tuple[Path | None, str]:
    """The reference's interpreter, creating its virtual environment if needed; or None and why not (one line)."""
    ref = REFERENCES[key]
    venv = Path(os.environ.get(_ENV_DIRS[key], ref.default_dir))
    python = _python(venv)
    if python.exists() and _installed_version(python, ref.dist) == ref.version:
        return python, ""
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", ref.requirement],
            capture_output=True, text=True, timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = _last_line(getattr(exc, "stderr", None)) or exc
        return None, _one_line(f"could not set up a virtual environment for {ref.requirement} at {venv}: {detail}")
    if pip.returncode != 0:
        detail = _last_line(pip.stderr or pip.stdout)
        return None, _one_line(f"pip could not install {ref.requirement} into {venv}: {detail}")
    if _installed_version(python, ref.dist) != ref.version:
        return None, _one_line(f"{ref.requirement} installed into {venv} but does not import")
    return python, ""


_vocab_dir: tempfile.TemporaryDirectory[str] | None = None


def _vocab_base() -> str:
    """A folder holding o200k_base.tiktoken, written from the package's bundled copy."""
    global _vocab_dir
    if _vocab_dir is None:
        _vocab_dir = tempfile.TemporaryDirectory(prefix="harmony-vocab-")
        from harmony_grammar.format.tokens import bundled_vocabulary, tiktoken_file

        data = tiktoken_file(bundled_vocabulary())
        Path(_vocab_dir.name, "o200k_base.tiktoken").write_bytes(data)
    return _vocab_dir.name


def run(key: str, python: Path, cases: list[dict[str, Any]], worker: Path = WORKER) -> list[Any]:
    """Run cases through the reference (by default with oracle_worker.py) and return its results, one per case."""
    env = dict(os.environ)
    env.pop("TIKTOKEN_ENCODINGS_BASE", None)
    if REFERENCES[key].needs_vocab_dir:
        env["TIKTOKEN_ENCODINGS_BASE"] = _vocab_base()
    proc = subprocess.run(
        [str(python), str(worker), "openai_harmony"],
        input=json.dumps(cases), capture_output=True, text=True, env=env, timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"reference worker failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)
