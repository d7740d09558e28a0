"""OCPP 2.0.1 handlers: thin, each a call into the bridge and a spec-shaped answer.

Id tokens (Authorize, TransactionEvent) are answered by ``hub.ocpp.authorization``; without an
authorizer every id token is ``Invalid``. Certificate requests are refused until Plug & Charge
certificate handling exists.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from hub.ocpp.station import StationMixin, now_iso

INVALID = {"status": "Invalid"}
EMPTY_ACTIONS = [
    Action.cleared_charging_limit,
    Action.firmware_status_notification,
    Action.log_status_notification,
    Action.meter_values,  # outside transactions: not a session's (see TransactionEvent)
    Action.notify_charging_limit,
    Action.notify_customer_information,
    Action.notify_display_messages,
    Action.notify_event,
    Action.notify_monitoring_report,
    Action.notify_report,
    Action.publish_firmware_status_notification,
    Action.report_charging_profiles,
    Action.reservation_status_update,
    Action.security_event_notification,
]


class StationV201(StationMixin, ChargePoint):  # type: ignore[misc]
    version = "2.0.1"
    known_actions = frozenset(a.value for a in Action)

    @on(Action.boot_notification)
    async def on_boot(self, charging_station: dict[str, Any], reason: str, **_: Any) -> Any:
        await self.bridge.booted(
            self.id,
            vendor=charging_station.get("vendor_name"),
            model=charging_station.get("model"),
            serial_number=charging_station.get("serial_number"),
            firmware_version=charging_station.get("firmware_version"),
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
    async def on_status(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_: Any
    ) -> Any:
        await self.bridge.connector_status(
            self.id, evse_id=evse_id, connector_id=connector_id, ocpp_status=connector_status
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(
        self,
        id_token: dict[str, Any],
        certificate: str | None = None,
        iso15118_certificate_hash_data: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        authorizer = self.bridge.authorizer
        if authorizer is None:
            return call_result.Authorize(id_token_info=INVALID)
        info, certificate_status = await authorizer.id_token_info(
            self.id,
            id_token,
            action="Authorize",
            certificate=certificate,
            hash_data=iso15118_certificate_hash_data,
        )
        return call_result.Authorize(id_token_info=info, certificate_status=certificate_status)

    @on(Action.transaction_event)
    async def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        id_token: dict[str, Any] | None = None,
        evse: dict[str, Any] | None = None,
        meter_value: list[dict[str, Any]] | None = None,
        reservation_id: int | None = None,
        **_: Any,
    ) -> Any:
        transactions = self.bridge.transactions
        if transactions is not None:
            info = await transactions.event_201(
                self.id,
                event_type=event_type,
                timestamp=timestamp,
                seq_no=seq_no,
                transaction_info=transaction_info,
                evse=evse,
                id_token=id_token,
                meter_value=meter_value,
                reservation_id=reservation_id,
            )
            return call_result.TransactionEvent(id_token_info=info)
        if id_token is None:
            return call_result.TransactionEvent()
        authorizer = self.bridge.authorizer
        if authorizer is None:
            return call_result.TransactionEvent(id_token_info=INVALID)
        info, _status = await authorizer.id_token_info(
            self.id,
            id_token,
            action="TransactionEvent",
            evse_id=(evse or {}).get("id"),
        )
        return call_result.TransactionEvent(id_token_info=info)

    @on(Action.data_transfer)
    async def on_data_transfer(self, **_: Any) -> Any:
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.notify_ev_charging_needs)
    async def on_ev_charging_needs(self, **_: Any) -> Any:
        return call_result.NotifyEVChargingNeeds(status="Rejected")

    @on(Action.notify_ev_charging_schedule)
    async def on_ev_charging_schedule(self, **_: Any) -> Any:
        return call_result.NotifyEVChargingSchedule(status="Accepted")

    @on(Action.sign_certificate)
    async def on_sign_certificate(self, **_: Any) -> Any:
        return call_result.SignCertificate(status="Rejected")

    @on(Action.get_15118_ev_certificate)
    async def on_15118_certificate(self, **_: Any) -> Any:
        return call_result.Get15118EVCertificate(status="Failed", exi_response="")

    @on(Action.get_certificate_status)
    async def on_certificate_status(self, **_: Any) -> Any:
        return call_result.GetCertificateStatus(status="Failed")


def _empty_handler(action: Action) -> Any:
    result_class = getattr(call_result, action.value)

    async def handler(self: StationV201, **_: Any) -> Any:
        return result_class()

    handler.__name__ = f"on_{action.name}"
    return on(action)(handler)


for _action in EMPTY_ACTIONS:
    setattr(StationV201, f"on_{_action.name}", _empty_handler(_action))
