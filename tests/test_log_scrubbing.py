"""Personal data never reaches the logs, and scrubbing keeps every log line intact (security probe round
2, item 7): uvicorn's access log reads its arguments by position, and tracebacks carry values too."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter, DefaultFormatter

from models.privacy import install_log_scrubber


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    install_log_scrubber()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("shouxin.test.scrub")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, out, handler
    logger.removeHandler(handler)


def test_an_access_log_line_with_a_phone_in_the_url_is_written_masked(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, out, handler = captured
    handler.setFormatter(
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    )
    # What uvicorn's httptools protocol logs for each request.
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/register?q=13800138000", "1.1", 200)
    line = out.getvalue().strip()
    assert line == '127.0.0.1:5000 - "GET /register?q=138****8000 HTTP/1.1" 200 OK'


def test_a_traceback_that_carries_personal_data_is_scrubbed(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, out, handler = captured
    handler.setFormatter(DefaultFormatter("%(levelname)s %(message)s", use_colors=False))
    try:
        raise ValueError("bad cell for 13912345678 / 11010119900307123X / li.si@qq.com")
    except ValueError:
        logger.exception("export failed for %s", "13912345678")
    text = out.getvalue()
    assert "Traceback" in text
    assert "13912345678" not in text
    assert "11010119900307123X" not in text
    assert "li.si@qq.com" not in text
    assert "139****5678" in text


def test_mapping_arguments_and_non_text_values_keep_their_shape(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, out, handler = captured
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.info("%(who)s rang %(times)d times", {"who": "13800138000", "times": 3})
    logger.info("payload %s", {"phone": "13800138000"})
    assert out.getvalue().splitlines() == ["138****8000 rang 3 times", "payload {'phone': '138****8000'}"]
