"""The validating worker's answer (models/pledges/import_checks.py): the rows this process would have
validated, with access codes whose digests this process verifies."""

from __future__ import annotations

from functools import partial
from typing import Any

from models.pledges.access import secret_key, verify
from models.pledges.import_checks import check_rows, check_rows_in_worker, validating_pool
from tests.test_import_checks import AUTHORITIES, TODAY, _chunks


def test_the_worker_answers_the_rows_validated_here_with_codes_verified_here() -> None:
    (rows,) = _chunks(30, 30)
    here = check_rows(rows, authorities=AUTHORITIES, default_authority=None, today=TODAY)
    pool = validating_pool()
    try:
        options: dict[str, Any] = {"authorities": AUTHORITIES, "default_authority": None, "today": TODAY}
        check = partial(check_rows_in_worker, **options, key=secret_key())
        there = pool.submit(check, rows).result()
    finally:
        pool.shutdown()
    assert (there.read, there.valid, there.errors) == (here.read, here.valid, here.errors)
    assert here.codes == []
    assert len(there.codes) == len(there.valid) == 24
    assert len({code for code, _ in there.codes}) == 24
    assert all(verify(code, digest) for code, digest in there.codes)
