"""The project's own pyproject.toml installs without deprecation warnings (issue 15)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_licence_is_an_spdx_string_for_a_setuptools_that_reads_it() -> None:
    # setuptools >= 77 warns "`project.license` as a TOML table is deprecated" on every install of a
    # table; a plain SPDX string is what it reads instead, so the build must require such a setuptools.
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    [setuptools] = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    found = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools)
    assert found is not None, setuptools
    assert int(found[1]) >= 77
    assert not any(c.startswith("License ::") for c in PYPROJECT["project"].get("classifiers", []))
