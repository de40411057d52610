"""Who runs a command, for the records that name a person (a loaded holiday notice, a row settled by hand)
when ``--by`` is not given: the operating-system user."""

from __future__ import annotations

import getpass


def operator_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "cli"
