"""The README's lifecycle section is generated from the code; it must not drift."""

import re
from pathlib import Path

from models.lifecycle import all_lifecycles_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_lifecycle_tables_match_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- lifecycle:start -->\n(.*)<!-- lifecycle:end -->", text, re.S)
    assert match, "README lost its lifecycle markers"
    assert match.group(1) == all_lifecycles_markdown(), "README is stale: run `shouxin docs lifecycle`"
