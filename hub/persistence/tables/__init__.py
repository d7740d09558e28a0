"""SQLModel tables; importing this package registers every table on the metadata."""

from hub.persistence.tables.parties import Party
from hub.persistence.tables.partners import Partner, PartnerRole

__all__ = ["Partner", "PartnerRole", "Party"]
