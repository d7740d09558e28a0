"""How a failed push is classified: per object (final), per partner (retried), or a PUT instead."""

from __future__ import annotations

import pytest

from hub.domain.push import Failure, classify_failure


@pytest.mark.parametrize(
    ("method", "http_status", "ocpi_status", "expected"),
    [
        # The object itself is refused: final for this version, the partner is fine.
        ("PUT", 422, None, Failure.REJECTED),
        ("PUT", 400, None, Failure.REJECTED),
        ("PUT", 404, None, Failure.REJECTED),
        ("PATCH", 422, None, Failure.REJECTED),
        ("DELETE", 405, None, Failure.REJECTED),
        ("PUT", 413, None, Failure.REJECTED),
        ("PUT", None, 2001, Failure.REJECTED),
        ("PUT", None, 2003, Failure.REJECTED),
        ("PATCH", None, 2001, Failure.REJECTED),
        # The partner cannot take anything now: retried, counts against its reachability.
        ("PUT", 401, None, Failure.TRANSIENT),
        ("PUT", 408, None, Failure.TRANSIENT),
        ("PATCH", 429, None, Failure.TRANSIENT),
        ("PUT", 500, None, Failure.TRANSIENT),
        ("PUT", 502, None, Failure.TRANSIENT),
        ("PUT", 503, None, Failure.TRANSIENT),
        ("PUT", 302, None, Failure.TRANSIENT),
        ("PUT", None, 3000, Failure.TRANSIENT),
        ("PUT", None, 4001, Failure.TRANSIENT),
        ("PUT", None, None, Failure.TRANSIENT),
        # A PATCH of an object the partner lacks: the whole object is PUT instead.
        ("PATCH", 404, None, Failure.UNKNOWN_OBJECT),
        ("PATCH", None, 2003, Failure.UNKNOWN_OBJECT),
        ("PATCH", 200, 2003, Failure.UNKNOWN_OBJECT),
    ],
)
def test_classify_failure(method, http_status, ocpi_status, expected):
    assert classify_failure(method, http_status=http_status, ocpi_status=ocpi_status) is expected
