"""The public feed's HTTP pieces without a host: the rate limiter and the ETag rules."""

from __future__ import annotations

import pytest

from ocpi.v221.server.public import RateLimit, RateLimiter, etag_of, if_none_match


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_average_rate_per_client():
    clock = Clock()
    limiter = RateLimiter(RateLimit(per_hour=3600, burst=2), clock=clock)
    assert limiter.take("a") is None
    assert limiter.take("a") is None
    assert limiter.take("a") == pytest.approx(1.0)
    assert limiter.take("b") is None  # another address has its own bucket
    clock.now += 0.5
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("a") is None
    clock.now += 3600  # refills up to the burst, not beyond
    assert [limiter.take("a") for _ in range(3)][:2] == [None, None]
    assert limiter.take("a") is not None


def test_a_clock_going_back_refills_nothing():
    clock = Clock()
    limiter = RateLimiter(RateLimit(per_hour=3600, burst=1), clock=clock)
    assert limiter.take("a") is None
    clock.now -= 100
    assert limiter.take("a") is not None
    clock.now += 100.5
    assert limiter.take("a") is not None  # half a request since the newest time seen
    clock.now += 0.5
    assert limiter.take("a") is None


def test_memory_is_bounded_forgetting_full_buckets_first():
    clock = Clock()
    limiter = RateLimiter(RateLimit(per_hour=3600, burst=1), clock=clock, max_clients=3)
    for key in ("a", "b", "c"):
        assert limiter.take(key) is None
    clock.now += 0.5
    assert limiter.take("d") is None  # none full yet: the longest idle one ("a") is dropped
    assert len(limiter._buckets) == 3
    assert "a" not in limiter._buckets
    assert limiter.take("b") is not None  # still limited: kept


def test_etag_ignores_the_timestamp_and_sees_data_and_pagination():
    envelope = {"data": [1], "status_code": 1000, "timestamp": "2026-11-24T10:00:00Z"}
    tag = etag_of(envelope, {"X-Total-Count": "1"})
    assert tag == etag_of({**envelope, "timestamp": "2026-11-24T10:00:01Z"}, {"X-Total-Count": "1"})
    assert tag != etag_of({**envelope, "data": [2]}, {"X-Total-Count": "1"})
    assert tag != etag_of(envelope, {"X-Total-Count": "2"})
    assert tag.startswith('W/"')


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("", False),
        ('W/"abc"', True),
        ('"abc"', True),
        ('"x", W/"abc"', True),
        ("*", True),
        ('"abcd"', False),
        ('W/"ab"', False),
    ],
)
def test_if_none_match_uses_weak_comparison(header, matches):
    assert if_none_match(header, 'W/"abc"') is matches
