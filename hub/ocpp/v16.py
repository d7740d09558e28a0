"""OCPP 1.6 handlers: thin, each a call into the bridge and a spec-shaped answer.

Id tags (Authorize, StartTransaction) are answered by ``hub.ocpp.authorization``; without an
authorizer every id tag is ``Invalid``: no energy is given away for an id nobody vouched for.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from hub.ocpp.station import StationMixin, now_iso

_transaction_ids = itertools.count(int(time.time()) % 1_000_000 * 1000)
INVALID = {"status": "Invalid"}


class StationV16(StationMixin, ChargePoint):  # type: ignore[misc]
    version = "1.6"
    known_actions = frozenset(a.value for a in Action)

    @on(Action.boot_notification)
    async def on_boot(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> Any:
        await self.bridge.booted(
            self.id,
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial_number=kwargs.get("charge_point_serial_number"),
            firmware_version=kwargs.get("firmware_version"),
        )
        return call_result.BootNotification(
            current_time=now_iso(),
            interval=self.bridge.settings.heartbeat_interval_seconds,
            status="Accepted",
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self) -> Any:
        return call_result.Heartbeat(current_time=now_iso())

    @on(Action.status_notification)
    async def on_status(self, connector_id: int, status: str, **_: Any) -> Any:
        await self.bridge.connector_status(
            self.id, evse_id=None, connector_id=connector_id, ocpp_status=status
        )
        return call_result.StatusNotification()

    async def _id_tag_info(
        self, id_tag: str, action: str, connector_id: int | None = None
    ) -> dict[str, str]:
        authorizer = self.bridge.authorizer
        if authorizer is None:
            return INVALID
        return await authorizer.id_tag_info(
            self.id, id_tag, action=action, connector_id=connector_id
        )

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str) -> Any:
        return call_result.Authorize(id_tag_info=await self._id_tag_info(id_tag, "Authorize"))

    @on(Action.start_transaction)
    async def on_start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: str,
        reservation_id: int | None = None,
        **_: Any,
    ) -> Any:
        transactions = self.bridge.transactions
        if transactions is None:
            info = await self._id_tag_info(id_tag, "StartTransaction", connector_id)
            return call_result.StartTransaction(
                transaction_id=next(_transaction_ids), id_tag_info=info
            )
        transaction_id, info = await transactions.started_16(
            self.id,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=meter_start,
            timestamp=timestamp,
            reservation_id=reservation_id,
        )
        return call_result.StartTransaction(transaction_id=transaction_id, id_tag_info=info)

    @on(Action.stop_transaction)
    async def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        reason: str | None = None,
        transaction_data: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        if self.bridge.transactions is not None:
            await self.bridge.transactions.stopped_16(
                self.id,
                transaction_id=transaction_id,
                meter_stop=meter_stop,
                timestamp=timestamp,
                reason=reason,
                transaction_data=transaction_data,
            )
        return call_result.StopTransaction()

    @on(Action.meter_values)
    async def on_meter_values(
        self,
        connector_id: int,
        meter_value: list[dict[str, Any]],
        transaction_id: int | None = None,
        **_: Any,
    ) -> Any:
        if self.bridge.transactions is not None:
            await self.bridge.transactions.meter_values_16(
                self.id,
                connector_id=connector_id,
                transaction_id=transaction_id,
                meter_value=meter_value,
            )
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, **_: Any) -> Any:
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status(self, **_: Any) -> Any:
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, **_: Any) -> Any:
        return call_result.FirmwareStatusNotification()

    @on(Action.security_event_notification)
    async def on_security_event(self, **_: Any) -> Any:
        return call_result.SecurityEventNotification()

    @on(Action.signed_firmware_status_notification)
    async def on_signed_firmware_status(self, **_: Any) -> Any:
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.log_status_notification)
    async def on_log_status(self, **_: Any) -> Any:
        return call_result.LogStatusNotification()

    @on(Action.sign_certificate)
    async def on_sign_certificate(self, **_: Any) -> Any:
        return call_result.SignCertificate(status="Rejected")
