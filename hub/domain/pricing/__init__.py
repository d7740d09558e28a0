"""Exact OCPI 2.2.1 tariff pricing (pure domain code: stdlib only). See ``engine``."""

from hub.domain.pricing.engine import price_session
from hub.domain.pricing.model import (
    Dimension,
    Element,
    Money,
    Period,
    PriceComponent,
    PricingResult,
    Reservation,
    Restrictions,
    Session,
    Tariff,
    tariff_in_effect,
)

__all__ = [
    "Dimension",
    "Element",
    "Money",
    "Period",
    "PriceComponent",
    "PricingResult",
    "Reservation",
    "Restrictions",
    "Session",
    "Tariff",
    "price_session",
    "tariff_in_effect",
]
