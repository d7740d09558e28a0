"""Benchmark of the pricing engine (prints CDRs priced per second on one core; not a test).

    .venv/bin/python -m tests.benchmarks.bench_pricing [--seconds 3]

Typical tariffs of the network (energy only; energy + idle fee; time-of-use + idle fee +
session fee; the spec's complex tariff) and a typical DC session: 40 minutes of charging
reported as 4 meter periods, then 12 minutes parked.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hub.domain.pricing import Period, Session, price_session
from hub.roaming.pricing import tariff_from_ocpi
from ocpi.v221 import models as v221

DATA = Path(__file__).resolve().parents[1] / "data"


def load(path: Path) -> object:
    return tariff_from_ocpi(v221.Tariff.model_validate(json.loads(path.read_text())))


def typical_session(offset_minutes: int) -> Session:
    start = datetime(2026, 6, 10, 18, 0, tzinfo=UTC) + timedelta(minutes=offset_minutes)
    periods = []
    for index, (kwh, kw) in enumerate([(25, 180), (18, 140), (10, 80), (4, 30)]):
        begin = start + timedelta(minutes=10 * index)
        periods.append(
            Period(
                begin, begin + timedelta(minutes=10), Decimal(kwh), Decimal(kw), Decimal(kw * 2.5)
            )
        )
    parked = periods[-1].end
    periods.append(
        Period(
            parked,
            parked + timedelta(minutes=12),
            Decimal(0),
            Decimal(0),
            Decimal(0),
            charging=False,
        )
    )
    return Session(start, periods[-1].end, tuple(periods))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    examples = DATA / "ocpi" / "examples-2.2.1-d2"
    tariffs = {
        "energy only (tariff_8)": load(examples / "tariff_8_simple_025kwh.json"),
        "energy + idle fee + start fee (tariff_10)": load(
            examples / "tariff_10_025kwh_parking_start.json"
        ),
        "time-of-use + idle fee + session fee": load(DATA / "pricing" / "tou_with_idle_fee.json"),
        "spec complex tariff (tariff_4)": load(examples / "tariff_4_complex.json"),
    }
    sessions = [typical_session(minutes) for minutes in range(0, 24 * 60, 37)]
    for name, tariff in tariffs.items():
        priced = 0
        started = time.process_time()
        while time.process_time() - started < args.seconds:
            for session in sessions:
                price_session(tariff, session, "America/New_York")  # type: ignore[arg-type]
            priced += len(sessions)
        rate = priced / (time.process_time() - started)
        print(f"{name}: {rate:,.0f} CDRs/s on one core")


if __name__ == "__main__":
    main()
