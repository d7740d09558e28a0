"""Plug & Charge contract certificates, as far as authorizing an eMAID needs them: the one port
through which an OCPP 2.0.1 ``Authorize`` carrying a ``certificate`` (the contract certificate
chain, PEM) or ``iso15118CertificateHashData`` (OCSP request data) gets its
``certificateStatus`` (``shared/pnc/NOTES.md`` §3).

The rule the authorization flow keeps: when the charger sends certificate data, the token is
Accepted only when the validator answers ``Accepted``; any other status refuses it (Invalid)
and its eMSP is not asked. A charger that validated the contract itself sends no certificate
data, and the eMAID is authorized like any token.

:class:`NoContractCertificateValidation` is the default: we validate no certificates yet, so it
answers ``NoCertificateAvailable`` and no eMAID presented with certificate data is Accepted. A
later certificate issue (OCSP across the CTL roots) replaces it behind the same port.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class CertificateStatus(StrEnum):
    """OCPP 2.0.1 ``AuthorizeCertificateStatusEnumType``."""

    ACCEPTED = "Accepted"
    SIGNATURE_ERROR = "SignatureError"
    CERTIFICATE_EXPIRED = "CertificateExpired"
    CERTIFICATE_REVOKED = "CertificateRevoked"
    NO_CERTIFICATE_AVAILABLE = "NoCertificateAvailable"
    CERT_CHAIN_ERROR = "CertChainError"
    CONTRACT_CANCELLED = "ContractCancelled"


@dataclass(frozen=True, slots=True)
class OcspRequestData:
    """One ``iso15118CertificateHashData`` entry (OCPP 2.0.1 ``OCSPRequestDataType``)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    responder_url: str


@dataclass(frozen=True, slots=True)
class ContractCertificateQuestion:
    """What the charger sent about the contract of ``emaid`` (normalised)."""

    emaid: str
    certificate: str | None
    hash_data: Sequence[OcspRequestData] = ()

    @property
    def has_certificate_data(self) -> bool:
        return self.certificate is not None or bool(self.hash_data)


class ContractCertificateValidator(Protocol):
    """Validates a contract certificate chain or its OCSP data; ``hub.app`` plugs one in."""

    async def validate(self, question: ContractCertificateQuestion) -> CertificateStatus:
        """The status to answer; only ``Accepted`` lets the eMAID be Accepted."""
        ...


class NoContractCertificateValidation:
    """The default validator: no certificate can be validated yet (see the module doc)."""

    async def validate(self, question: ContractCertificateQuestion) -> CertificateStatus:
        del question  # nothing to validate against yet
        return CertificateStatus.NO_CERTIFICATE_AVAILABLE


_PORT: type[ContractCertificateValidator] = NoContractCertificateValidation
