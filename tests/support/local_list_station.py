"""A raw-frame OCPP station that keeps a local authorization list: it answers the list's
questions (1.6 GetConfiguration, 2.0.1 GetVariables, GetLocalListVersion), applies every
SendLocalList it receives as a station would, and records each call, for the tests to read."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tests.support.ocpp_raw import RawStation

BOOT_16 = {"chargePointVendor": "Acme", "chargePointModel": "HPC-350"}
BOOT_201 = {"reason": "PowerUp", "chargingStation": {"vendorName": "Acme", "model": "HPC-400"}}


@dataclass
class ListKeepingStation:
    raw: RawStation
    version: str
    list_version: int = 0
    configuration: dict[str, str] = field(default_factory=dict)
    """1.6 configuration keys the station knows (others are unknownKey)."""
    variables: dict[str, str] | None = field(default_factory=dict)
    """2.0.1 LocalAuthListCtrlr variables it knows (None: no such component)."""
    not_implemented: frozenset[str] = frozenset()
    """Actions answered with CallError NotImplemented."""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    held: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The list as the station holds it: id token → entry."""
    list_received: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def actions(self) -> list[str]:
        return [action for action, _ in self.calls]

    @property
    def lists_received(self) -> list[dict[str, Any]]:
        return [payload for action, payload in self.calls if action == "SendLocalList"]

    def forget_calls(self) -> None:
        self.calls.clear()

    async def serve(self) -> None:
        # Calls that arrived while the station waited for its boot answer come first.
        pending, self.raw.calls_received = self.raw.calls_received, []
        for frame in pending:
            await self._answer(frame)
        while True:
            frame = json.loads(await self.raw.socket.recv())
            if frame[0] == 2:
                await self._answer(frame)

    async def _answer(self, frame: list[Any]) -> None:
        _, unique_id, action, payload = frame
        self.calls.append((action, payload))
        if action in self.not_implemented:
            error = [4, unique_id, "NotImplemented", f"{action} is not implemented", {}]
            await self.raw.socket.send(json.dumps(error))
            return
        answer = self.answer(action, payload)
        await self.raw.socket.send(json.dumps([3, unique_id, answer]))
        if action == "SendLocalList":
            self.list_received.set()

    def _id_of(self, entry: dict[str, Any]) -> str:
        if self.version == "1.6":
            return str(entry["idTag"]).upper()
        return f"{entry['idToken']['type']}:{str(entry['idToken']['idToken']).upper()}"

    def answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        version_key = "listVersion" if self.version == "1.6" else "versionNumber"
        info_key = "idTagInfo" if self.version == "1.6" else "idTokenInfo"
        if action == "GetConfiguration":
            keys = payload.get("key") or list(self.configuration)
            return {
                "configurationKey": [
                    {"key": key, "readonly": True, "value": self.configuration[key]}
                    for key in keys
                    if key in self.configuration
                ],
                "unknownKey": [key for key in keys if key not in self.configuration],
            }
        if action == "GetVariables":
            results = []
            for data in payload["getVariableData"]:
                name = data["variable"]["name"]
                result: dict[str, Any] = {
                    "component": data["component"],
                    "variable": data["variable"],
                    "attributeType": data.get("attributeType", "Actual"),
                }
                if self.variables is None:
                    result["attributeStatus"] = "UnknownComponent"
                elif name in self.variables:
                    result.update(attributeStatus="Accepted", attributeValue=self.variables[name])
                else:
                    result["attributeStatus"] = "UnknownVariable"
                results.append(result)
            return {"getVariableResult": results}
        if action == "GetLocalListVersion":
            return {version_key: self.list_version}
        if action == "SendLocalList":
            if payload["updateType"] == "Full":
                self.held.clear()
            elif payload[version_key] <= self.list_version:
                return {"status": "VersionMismatch"}
            for entry in payload.get("localAuthorizationList") or []:
                if info_key in entry:
                    self.held[self._id_of(entry)] = entry
                else:
                    self.held.pop(self._id_of(entry), None)
            self.list_version = payload[version_key]
            return {"status": "Accepted"}
        return {}


@contextlib.asynccontextmanager
async def list_keeping_station(
    ws_url: str, station_id: str, password: str, version: str, **state: Any
) -> AsyncIterator[ListKeepingStation]:
    """Connected and booted; answers the hub's calls until the block ends."""
    raw = await RawStation.connect(ws_url, station_id, password, [f"ocpp{version}"])
    station = ListKeepingStation(raw, version, **state)
    boot = await raw.call("BootNotification", BOOT_16 if version == "1.6" else BOOT_201)
    assert boot[0] == 3, boot
    assert boot[2]["status"] == "Accepted", boot
    task = asyncio.create_task(station.serve())
    try:
        yield station
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await raw.close()
