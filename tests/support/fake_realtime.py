"""A fake :class:`~hub.domain.realtime.RealTimeAuthorization` port for tests of the OCPP
authorization flow: scripted answers, every question recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from hub.domain.realtime import AuthorizedToken, DriverMessage, RealTimeAnswer, RealTimeOutcome
from hub.domain.tokens import AllowedType, TokenKey, TokenType


@dataclass
class Question:
    kind: str
    key: TokenKey | None
    uid: str
    token_type: TokenType
    location_id: str | None
    evse_uids: tuple[str, ...]


@dataclass
class FakeRealTime:
    """The RealTimeAuthorization port: scripted answers, every question recorded. ``hang``
    makes it never answer (an eMSP slower than any budget); ``fail`` makes it raise."""

    answers: dict[str, RealTimeAnswer] = field(default_factory=dict)
    questions: list[Question] = field(default_factory=list)
    hang: bool = False
    fail: bool = False

    async def _answer(self, uid: str) -> RealTimeAnswer:
        if self.fail:
            raise RuntimeError("the port broke")
        if self.hang:
            await asyncio.Event().wait()
        return self.answers.get(
            uid.upper(), RealTimeAnswer(RealTimeOutcome.UNKNOWN, 0.01, reason="unknown")
        )

    async def authorize(
        self, token: TokenKey, *, location_id: str | None = None, evse_uids: Sequence[str] = ()
    ) -> RealTimeAnswer:
        self.questions.append(
            Question("issuer", token, token.uid, token.type, location_id, tuple(evse_uids))
        )
        return await self._answer(token.uid)

    async def authorize_unknown(
        self,
        uid: str,
        token_type: TokenType,
        *,
        location_id: str | None = None,
        evse_uids: Sequence[str] = (),
    ) -> RealTimeAnswer:
        self.questions.append(
            Question("every", None, uid, token_type, location_id, tuple(evse_uids))
        )
        return await self._answer(uid)


def allowed(
    key: TokenKey,
    verdict: AllowedType = AllowedType.ALLOWED,
    *,
    partner_id: int | None = None,
    evses: tuple[str, ...] | None = None,
    group_id: str | None = None,
    info: str | None = None,
) -> RealTimeAnswer:
    return RealTimeAnswer(
        RealTimeOutcome.ANSWERED,
        0.042,
        allowed=verdict,
        allowed_evse_uids=evses,
        token=AuthorizedToken(key, "C-1", group_id=group_id, language="en"),
        partner_id=partner_id,
        authorization_reference="REF-1",
        info=DriverMessage("en", info) if info else None,
    )


def unreachable(partner_id: int | None = None) -> RealTimeAnswer:
    return RealTimeAnswer(
        RealTimeOutcome.UNREACHABLE, 0.5, partner_id=partner_id, reason="connection refused"
    )
