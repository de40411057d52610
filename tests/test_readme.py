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


def _shell_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:sh|bash)\n(.*?)```", text, re.S)


def test_readme_commands_run_as_written_from_the_checkout() -> None:
    """Issue 15: the examples name the installed command, print Chinese readably and upload files that
    exist; the pledge example's deadline is after the day it tells the reader to pin."""
    text = README.read_text(encoding="utf-8")
    lines = [line.strip() for block in _shell_blocks(text) for line in block.splitlines()]
    assert not [line for line in lines if line.startswith("shouxin ")], "use .venv/bin/shouxin"
    assert [line for line in lines if line.startswith(".venv/bin/shouxin ")]
    tools = [line for line in lines if "json.tool" in line]
    assert tools
    assert all("json.tool --no-ensure-ascii" in line for line in tools)
    uploads = [m for line in lines for m in re.findall(r"file=@([^\s\"']+)", line)]
    assert uploads
    root = README.parent
    for name in uploads:
        assert (root / name).is_file(), f"README uploads {name}, which is not in the checkout"

    pinned = re.search(r"SHOUXIN_TODAY=(\d{4}-\d{2}-\d{2}) make run", text)
    deadline = re.search(r'"deadline": "(\d{4}-\d{2}-\d{2})"', text)
    assert pinned
    assert deadline
    assert pinned[1] < deadline[1]


def test_the_readmes_sample_files_are_what_the_upload_and_the_import_accept() -> None:
    from models.files import sniff
    from models.pledges.import_rows import read_import_file

    root = README.parent
    assert sniff((root / "docs/sample-evidence.pdf").read_bytes()) == "application/pdf"
    rows = list(read_import_file((root / "docs/sample-pledges.csv").read_bytes(), "sample-pledges.csv"))
    assert len(rows) == 2
    assert all(row["authority_code"] == "ZJJ" for _, row in rows)  # a demo department
