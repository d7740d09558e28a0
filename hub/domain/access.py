"""Who may see what: the one rule every partner-visible read and push goes through.

A partner is identified by the parties it *owns*: (country_code, party_id) pairs the operator
pinned to it when inviting or registering it. A pair belongs to at most one partner, whatever
the roles it declares for it, so declaring another partner's party under a second role gains
nothing. Visibility is then decided here, and only here:

- a location is visible when it is published, or when one of the partner's parties is on its
  sharing list (``hub_visible_to``);
- a tariff is visible when at least one location referencing it is visible, or when no location
  references it (a public tariff published ahead of use).

Later modules (tokens, sessions, CDRs, commands) ask :meth:`PartyScope.owns`. The public data
feed asks with :data:`PUBLIC`, the scope of nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Party = tuple[str, str]
"""(country_code, party_id), upper case."""


def party_of(ref: str) -> Party:
    """``"US*EMA"`` (or ``"US-EMA"``, ``"USEMA"``) as a party pair, upper case.

    Raises:
        ValueError: not a 2-letter country code and a 3-character party id.
    """
    text = ref.strip().upper()
    for separator in ("*", "-"):
        if separator in text:
            country_code, _, party_id = text.partition(separator)
            break
    else:
        country_code, party_id = text[:2], text[2:]
    if not (
        len(country_code) == 2
        and country_code.isascii()
        and country_code.isalpha()
        and len(party_id) == 3
        and party_id.isascii()
        and party_id.isalnum()
    ):
        raise ValueError(f"{ref!r} is not a party: expected COUNTRY*PARTY, e.g. US*EMA")
    return country_code, party_id


def party_label(party: Party) -> str:
    return f"{party[0]}*{party[1]}"


@dataclass(frozen=True, slots=True)
class LocationAccess:
    """What decides who sees one location: its publish flag and its sharing list."""

    published: bool
    shared_with: frozenset[Party] = frozenset()


@dataclass(frozen=True, slots=True)
class PartyScope:
    """The parties one partner owns; empty for a partner that owns none (sees public data)."""

    parties: frozenset[Party]

    @classmethod
    def of(cls, parties: Iterable[Party]) -> PartyScope:
        return cls(frozenset((cc.upper(), pid.upper()) for cc, pid in parties))

    def owns(self, country_code: str, party_id: str) -> bool:
        """Whether objects of this party (its tokens, sessions, CDRs) belong to the partner."""
        return (country_code.upper(), party_id.upper()) in self.parties

    def may_see_location(self, access: LocationAccess) -> bool:
        return access.published or not self.parties.isdisjoint(access.shared_with)

    def may_see_tariff(self, referenced_by: Sequence[LocationAccess]) -> bool:
        """``referenced_by``: every location that references the tariff."""
        return not referenced_by or any(self.may_see_location(a) for a in referenced_by)

    def may_see(self, audience: Audience) -> bool:
        """The rule for any object, given the :class:`Audience` that describes it."""
        if audience.location is not None:
            return self.may_see_location(audience.location)
        return self.may_see_tariff(audience.referenced_by)


PUBLIC = PartyScope(frozenset())
"""Anyone at all (the free public data feed, 23 CFR 680.116(c)): owns no party, so it sees the
published locations, and the tariffs that a published location or no location references."""


@dataclass(frozen=True, slots=True)
class Audience:
    """What decides who may see one object: a location's own access, or, for a tariff, the
    access of every location referencing it."""

    location: LocationAccess | None = None
    referenced_by: tuple[LocationAccess, ...] = ()

    @classmethod
    def of_location(cls, access: LocationAccess) -> Audience:
        return cls(location=access)

    @classmethod
    def of_tariff(cls, referenced_by: Iterable[LocationAccess]) -> Audience:
        return cls(referenced_by=tuple(referenced_by))
