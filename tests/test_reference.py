"""When a reference cannot be installed, the differential tests say why in one line.

Offline and fast: the virtual environment is either impossible to create, or
one without pip of its own (it borrows this interpreter's) asked for a version
that does not exist with the package index switched off.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import conftest
import reference

KEY = "oss-harmony"
MISSING = "oss-harmony==0.0.0.dev0"


@pytest.fixture
def nonexistent_version(monkeypatch):
    """The reference's requirement is a version PyPI has never had."""
    ref = dataclasses.replace(reference.REFERENCES[KEY], requirement=MISSING, version="0.0.0.dev0")
    monkeypatch.setitem(reference.REFERENCES, KEY, ref)


@pytest.fixture
def venv_without_that_version(tmp_path, monkeypatch, nonexistent_version) -> Path:
    """A virtual environment whose pip (this interpreter's) finds nothing to install."""
    try:
        import pip
    except ImportError:
        pytest.skip("this interpreter has no pip to lend")
    venv = tmp_path / "ref"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "borrowed-pip.pth").write_text(str(Path(pip.__file__).resolve().parent.parent) + "\n", encoding="utf-8")
    monkeypatch.setenv("HARMONY_REF_OSS", str(venv))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("HARMONY_REQUIRE_REFERENCE", raising=False)
    return venv


def _assert_one_line(why: str, *names: str) -> None:
    assert why and "\n" not in why and "\r" not in why, repr(why)
    for name in names:
        assert name in why, (name, why)


def test_a_failed_pip_install_is_one_line(venv_without_that_version):
    python, why = reference.ensure(KEY)
    assert python is None
    _assert_one_line(why, MISSING, "No matching distribution found")


def test_an_impossible_venv_location_is_one_line(tmp_path, monkeypatch, nonexistent_version):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    monkeypatch.setenv("HARMONY_REF_OSS", str(blocker / "venv"))
    python, why = reference.ensure(KEY)
    assert python is None
    _assert_one_line(why, MISSING, str(blocker / "venv"))


def test_the_skip_reason_is_one_line(venv_without_that_version):
    with pytest.raises(pytest.skip.Exception) as skipped:
        conftest._oracle(KEY)
    _assert_one_line(skipped.value.msg, f"reference {KEY} unavailable", MISSING)


def test_harmony_require_reference_makes_it_a_failure(venv_without_that_version, monkeypatch):
    monkeypatch.setenv("HARMONY_REQUIRE_REFERENCE", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        conftest._oracle(KEY)
    _assert_one_line(failed.value.msg, "HARMONY_REQUIRE_REFERENCE", MISSING)


@pytest.mark.parametrize("output, line", [
    ("ERROR: Could not find a version\nERROR: No matching distribution found for x==9\n", "ERROR: No matching distribution found for x==9"),
    ("  error: metadata-generation-failed\n\n× Encountered error\n╰─> See above.\n\nhint: See above.\n", "error: metadata-generation-failed"),
    ("some\n  last   words \n\n", "last words"),
    (b"bytes\nERROR: too\n", "ERROR: too"),
    ("", ""),
    (None, ""),
])
def test_last_line(output, line):
    assert reference._last_line(output) == line
