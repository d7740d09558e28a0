"""Price components without ``vat``: "If omitted, no VAT is applicable" (OCPI 2.2.1-d2,
``mod_tariffs.asciidoc``, PriceComponent), so their cost incl. VAT equals their cost excl. VAT.
US tariffs carry no VAT, so this is every CDR of a US tariff."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from hub.domain.pricing import (
    Dimension,
    Element,
    Money,
    Period,
    PriceComponent,
    Session,
    Tariff,
    price_session,
)
from hub.roaming.pricing import cdr_fields, tariff_from_ocpi
from ocpi.v221 import models as v221

D = Decimal
NY = "America/New_York"
START = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)


def component(dimension: Dimension, price: str, vat: str | None = None) -> PriceComponent:
    return PriceComponent(dimension, D(price), 1, D(vat) if vat is not None else None)


def charge_then_park(kwh: str = "10", charging_minutes: int = 60, parking_minutes: int = 30):
    parked = START + timedelta(minutes=charging_minutes)
    end = parked + timedelta(minutes=parking_minutes)
    periods = (Period(START, parked, D(kwh)), Period(parked, end, D(0), charging=False))
    return Session(START, end, periods)


def test_components_without_vat_cost_the_same_incl_vat():
    t = Tariff(
        "T",
        "USD",
        (Element((component(Dimension.FLAT, "1.00"), component(Dimension.ENERGY, "0.45"))),),
    )
    result = price_session(t, charge_then_park(kwh="20"), NY)
    # 1.00 + 20 kWh x 0.45 = 10.00, no VAT applicable.
    assert result.total_cost == Money(D("10.00"), D("10.00"))
    assert result.total_fixed_cost == Money(D("1.00"), D("1.00"))
    assert result.total_energy_cost == Money(D("9.00"), D("9.00"))
    assert all(line.cost.incl_vat == line.cost.excl_vat for line in result.lines)


def test_mixed_components_each_add_their_own_vat():
    t = Tariff(
        "T",
        "USD",
        (
            Element(
                (
                    component(Dimension.FLAT, "1.00"),  # no VAT applicable
                    component(Dimension.ENERGY, "0.50", vat="10"),
                    component(Dimension.TIME, "2.00", vat="20"),
                    component(Dimension.PARKING_TIME, "3.00"),  # no VAT applicable
                )
            ),
        ),
    )
    result = price_session(t, charge_then_park(), NY)
    # FLAT 1.00 / 1.00; ENERGY 10 kWh x 0.50 = 5.00 / 5.50; TIME 1 h x 2.00 = 2.00 / 2.40;
    # PARKING 0.5 h x 3.00 = 1.50 / 1.50. Total 9.50 / 10.40.
    assert result.total_fixed_cost == Money(D("1.00"), D("1.00"))
    assert result.total_energy_cost == Money(D("5.00"), D("5.50"))
    assert result.total_time_cost == Money(D("2.00"), D("2.40"))
    assert result.total_parking_cost == Money(D("1.50"), D("1.50"))
    assert result.total_cost == Money(D("9.50"), D("10.40"))


def test_omitted_vat_and_zero_vat_give_the_same_amounts():
    def priced(vat: str | None) -> Money:
        t = Tariff("T", "USD", (Element((component(Dimension.ENERGY, "0.37", vat=vat),)),))
        return price_session(t, charge_then_park(kwh="13.5"), NY).total_cost

    assert priced(None) == priced("0") == Money(D("5.00"), D("5.00"))  # 4.995 half-up


@pytest.mark.parametrize(
    ("bound", "kwh", "expected"),
    [
        ("min_price", "2", Money(D("5.00"), D("5.00"))),  # 1.00 raised to the minimum
        ("max_price", "30", Money(D("10.00"), D("10.00"))),  # 15.00 capped
    ],
)
def test_bounds_without_incl_vat_bound_both_when_the_tariff_has_no_vat(bound, kwh, expected):
    # A US tariff states its bound without incl_vat: no VAT applies to it either, so the bound
    # incl. VAT is the bound excl. VAT (otherwise total_cost would read e.g. 5.00 / 1.00).
    energy = Element((component(Dimension.ENERGY, "0.50"),))
    limit = Money(D("5.00") if bound == "min_price" else D("10.00"))
    t = Tariff("T", "USD", (energy,), **{bound: limit})
    result = price_session(t, charge_then_park(kwh=kwh, parking_minutes=0), NY)
    assert result.total_cost == expected
    assert result.adjustments


US_TARIFF = {
    "country_code": "US",
    "party_id": "HPC",
    "id": "US-NOVAT",
    "currency": "USD",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 1.00, "step_size": 1},
                {"type": "ENERGY", "price": 0.45, "step_size": 1},
            ]
        },
        {"price_components": [{"type": "PARKING_TIME", "price": 6.00, "step_size": 60}]},
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}
PRICE_FIELDS = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


def priced_cdr(document: dict) -> dict:
    t = tariff_from_ocpi(v221.Tariff.model_validate(document))
    return cdr_fields(price_session(t, charge_then_park(kwh="20"), NY))


def test_cdr_of_a_us_tariff_carries_incl_vat_in_every_price():
    fields = priced_cdr(US_TARIFF)
    # 1.00 + 20 kWh x 0.45 + 0.5 h parking x 6.00 = 13.00, no VAT.
    assert fields["total_cost"] == {"excl_vat": 13.0, "incl_vat": 13.0}
    assert fields["total_fixed_cost"] == {"excl_vat": 1.0, "incl_vat": 1.0}
    assert fields["total_energy_cost"] == {"excl_vat": 9.0, "incl_vat": 9.0}
    assert fields["total_parking_cost"] == {"excl_vat": 3.0, "incl_vat": 3.0}
    for key in PRICE_FIELDS:
        if key in fields:
            assert fields[key]["incl_vat"] == fields[key]["excl_vat"], key


def test_cdr_of_a_mixed_tariff_and_a_bound_without_incl_vat():
    mixed = json.loads(json.dumps(US_TARIFF))
    mixed["elements"][0]["price_components"][1]["vat"] = 10  # energy with 10 % VAT
    fields = priced_cdr(mixed)
    # FLAT 1.00 / 1.00, ENERGY 9.00 / 9.90, PARKING 3.00 / 3.00: 13.00 / 13.90.
    assert fields["total_energy_cost"] == {"excl_vat": 9.0, "incl_vat": 9.9}
    assert fields["total_fixed_cost"] == {"excl_vat": 1.0, "incl_vat": 1.0}
    assert fields["total_cost"] == {"excl_vat": 13.0, "incl_vat": 13.9}
    # A US tariff with a minimum price given excl. VAT only.
    minimum = {**US_TARIFF, "min_price": {"excl_vat": 20.00}}
    assert priced_cdr(minimum)["total_cost"] == {"excl_vat": 20.0, "incl_vat": 20.0}


def test_bound_without_incl_vat_in_a_tariff_with_vat_leaves_incl_vat_unknown_when_it_binds():
    # 2 kWh x 0.50 = 1.00 excl. / 1.10 incl. (10 % VAT), raised to a minimum of 5.00 excl. VAT:
    # the VAT on the 4.00 added is not stated, so the total incl. VAT is unknown (not 1.10) and
    # the CDR omits it. When the minimum does not bind, the total incl. VAT stands.
    energy = Element((component(Dimension.ENERGY, "0.50", vat="10"),))
    t = Tariff("T", "USD", (energy,), min_price=Money(D("5.00")))
    raised = price_session(t, charge_then_park(kwh="2", parking_minutes=0), NY)
    assert raised.total_cost == Money(D("5.00"), None)
    assert any("incl. VAT unknown" in note for note in raised.adjustments)
    assert cdr_fields(raised)["total_cost"] == {"excl_vat": 5.0}
    above = price_session(t, charge_then_park(kwh="20", parking_minutes=0), NY)
    assert above.total_cost == Money(D("10.00"), D("11.00"))
