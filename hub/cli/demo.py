"""``hub demo``: the whole platform on one machine in one command.

Starts the hub on an embedded SQLite file, a demo eMSP that registers through the real
credentials handshake over HTTP and pushes its drivers' tokens, and simulated chargers (OCPP 1.6
and 2.0.1 over websockets) that boot and change status, then run charges with those tokens; a
live view shows the chargers, their OCPI statuses, the charges and what the eMSP received; a
summary ends it: every finished charge must have reached the eMSP as exactly one CDR whose total
is recomputed (from the CDR's own tariff and charging periods, :mod:`hub.sim.cdrs`) to the cent.

Timing: the charges are replayed faster than real time (``--speed``, see
:class:`hub.sim.chargers.FastForwardClock`): the chargers' clock starts as far in the past as
the charges last and never passes the wall clock, so a 30-minute charge is sent in a few
seconds, stamped as the half hour before now, with meter values one simulated minute apart.

Meanwhile the demo eMSP's app starts a charge too (OCPI commands): a START_SESSION with an
APP_USER token of its own and an ``authorization_reference``, at a free EVSE no replayed charge
uses, with a ``response_url`` of its own; the charger accepts the remote start and charges (in
real time: it starts now) until the app's STOP_SESSION. The summary shows both commands'
results, and checks that the charge reached the eMSP as a session with ``auth_method`` COMMAND
and one CDR carrying its ``authorization_reference``. At the same time, a RESERVE_NOW at
another free EVSE for one of the eMSP's drivers, whose card then starts a charge there on the
reservation (:func:`app_reservation`; skipped if the hub does not take it).

Each step of the start (imports, migrations, servers, handshake, boots: several seconds) prints a
progress line first, and the live view fits an 80x24 terminal. The platform's modules are
imported inside the functions that use them, after the first progress line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from hub.cli.common import console as default_console

if TYPE_CHECKING:
    import uvicorn

    from hub.config import Settings
    from hub.sim.cdrs import CdrCheck
    from hub.sim.chargers import Charge, ChargePlan, SimulatedCharger, SimulatedStation
    from hub.sim.emsp import DemoEmsp

_T = TypeVar("_T")

SCREEN_HEIGHT = 24
"""The live view fits this many rows (and 80 columns); a taller terminal shows more EVSEs."""

PUSH_ROWS = 6
"""Rows of the "eMSP received" and "Latest pushes" tables (locations, tariffs, sessions and
CDRs: six kinds of push)."""

DELIVERY_DEADLINE_SECONDS = 30.0
"""How long the demo waits, after the last message of the chargers, for the eMSP to have
everything (the hub's statuses, every session and CDR)."""

APP_START_REF = "DEMO-APP-START"
"""The ``authorization_reference`` of the app's charge (and the ``ref`` of its response URLs)."""

APP_CHARGE_SECONDS = 2.0
"""How long the app's charge runs (real time) before the app stops it."""

COMMAND_WAIT_SECONDS = 20.0
"""How long the demo eMSP waits for a CommandResult, or for the session a start began."""

APP_RESERVATION_REF = "DEMO-APP-RESERVE"

_FIXED_ROWS = 15
"""Rows of the live view besides the EVSE (or charge) rows: the header line, the main table's
title, column header, rule and caption, the push tables' title, header, rule and rows, and one
row to spare for the cursor line under the view."""


@dataclass
class DemoState:
    """What the live view shows."""

    chargers: dict[str, SimulatedCharger] = field(default_factory=dict)
    hub_statuses: dict[str, str] = field(default_factory=dict)
    changed_at: dict[str, float] = field(default_factory=dict)
    """When the hub status of each EVSE last changed (``time.monotonic()``)."""
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    charges: list[Charge] = field(default_factory=list)
    """The charges, once they are under way (the view then shows them)."""
    speed: float = 1.0
    """How much faster than real time the charges are replayed."""
    references: dict[int, str] = field(default_factory=dict)
    """The ``authorization_reference`` of the app's charges, by charge number: their session
    and CDR are found by it (a reservation's begin when the reservation was accepted)."""

    def update_hub_statuses(self, statuses: dict[str, str], at: float) -> None:
        for uid, status in statuses.items():
            if self.hub_statuses.get(uid) != status:
                self.changed_at[uid] = at
        self.hub_statuses = statuses


@dataclass
class AppCommands:
    """What the demo eMSP's app did with commands, and what came back."""

    ref: str
    location_id: str = ""
    evse_uid: str = ""
    token_uid: str = ""
    results: dict[str, str] = field(default_factory=dict)
    """Per command: its CommandResponse, then its CommandResult (``ACCEPTED/ACCEPTED``)."""
    session_id: str | None = None
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None
    """Why it did not run (the hub does not offer it)."""

    def outcome(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"evse": self.evse_uid, **self.results}
        if self.skipped:
            shown["skipped"] = self.skipped
        return shown


def progress(console: Console, text: str) -> None:
    """One line saying what the demo does next (the start takes several seconds)."""
    console.print(f"[dim]>[/dim] {text}", highlight=False)


@contextlib.asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[uvicorn.Server]:
    import uvicorn

    from hub.logs import uvicorn_log_options

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, **uvicorn_log_options("warning"))
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


async def seed(
    settings: Settings, sites: int, seed_value: int
) -> tuple[list[SimulatedStation], int]:
    """Parties, a sample network, tariffs and the stations allowed to connect."""
    from hub.persistence.session import (
        create_engine,
        create_session_factory,
        dispose_engine,
        session_scope,
    )
    from hub.roaming.importer import parse_locations_json, parse_tariffs_json
    from hub.services.locations import LocationService
    from hub.services.parties import PartyService
    from hub.services.stations import StationService
    from hub.services.tariffs import TariffService
    from hub.sim.chargers import fleet_for_network
    from hub.sim.network import generate_network

    network = generate_network(sites=sites, seed=seed_value)
    engine = create_engine(settings.database.url)
    sessions = create_session_factory(engine)
    async with session_scope(sessions) as session:
        for country_code, name in (("US", "HPC Network US"), ("CA", "HPC Network Canada")):
            await PartyService(session).add(country_code=country_code, party_id="HPC", name=name)
        await TariffService(session).import_tariffs(parse_tariffs_json(json.dumps(network.tariffs)))
        await LocationService(session).import_locations(
            parse_locations_json(json.dumps(network.locations))
        )
        passwords = {}
        for station in fleet_for_network(network.locations, lambda _: ""):
            _, passwords[station.station_id] = await StationService(session).add(station.station_id)
    await dispose_engine(engine)
    stations = fleet_for_network(network.locations, passwords.__getitem__)
    evses = sum(len(loc.get("evses", [])) for loc in network.locations)
    return stations, evses


async def refresh_hub_statuses(settings: Settings, state: DemoState) -> None:
    from hub.persistence.session import (
        create_engine,
        create_session_factory,
        dispose_engine,
        session_scope,
    )
    from hub.services.stations import StationService

    engine = create_engine(settings.database.url)
    sessions = create_session_factory(engine)
    try:
        async with session_scope(sessions) as session:
            service = StationService(session)
            statuses = {}
            for station_id in state.chargers:
                for evse in await service.evses(station_id):
                    statuses[evse.uid] = evse.status
        state.update_hub_statuses(statuses, time.monotonic())
    finally:
        await dispose_engine(engine)


def _table(title: str, *columns: str) -> Table:
    """A table without borders: a title, a column header and its rule, then only rows."""
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        expand=True,
    )
    for column in columns:
        # Ids are what an operator looks for: wrapped if ever too long, never cut.
        table.add_column(column, overflow="fold")
    return table


def view(
    state: DemoState,
    emsp: DemoEmsp,
    duration: float,
    *,
    height: int = SCREEN_HEIGHT,
    now: float | None = None,
) -> Group:
    """The live view, at most ``height`` rows at 80 columns: a header line, one row per EVSE
    (those the eMSP does not agree on yet first, then the latest changes) or, once charges
    run, one per charge, as far as there is room, what the eMSP received and the latest pushes
    side by side."""
    now = time.monotonic() if now is None else now
    rows = max(height - _FIXED_ROWS, 1)
    if state.charges:
        header, main = _charges_header(state, emsp), _charges_table(state, emsp, rows)
    else:
        header, main = _traffic_header(state, duration, now), _chargers_table(state, emsp, rows)

    received = _table("eMSP received", "push", "count")
    counts = sorted(emsp.counts.items(), key=lambda item: (-item[1], item[0]))
    for key, count in counts[:PUSH_ROWS]:
        received.add_row(key, str(count))
    recent = _table("Latest pushes", "method", "object", "detail")
    for arrival in list(emsp.recent)[::-1][:PUSH_ROWS]:
        recent.add_row(arrival.method, arrival.what, arrival.detail)
    pushes = Table.grid(expand=True, padding=(0, 2))
    pushes.add_column(ratio=1)
    pushes.add_column(ratio=2)
    pushes.add_row(received, recent)
    return Group(header, main, pushes)


def _evses(state: DemoState) -> list[tuple[str, SimulatedCharger, str]]:
    return [(sid, c, uid) for sid, c in state.chargers.items() for uid in c.evse_uids]


def _traffic_header(state: DemoState, duration: float, now: float) -> Text:
    elapsed = min(max(now - state.started, 0.0), duration)
    return Text.assemble(
        ("hub demo", "bold"),
        f"  {elapsed:.0f}/{duration:.0f} s · {len(state.chargers)} chargers ·"
        f" {len(_evses(state))} EVSEs · {state.sent} status changes sent",
    )


def _chargers_table(state: DemoState, emsp: DemoEmsp, room: int) -> Table:
    at_emsp = emsp.evse_statuses()
    versions = [c.station.ocpp_version for c in state.chargers.values()]
    evses = _evses(state)

    def pending_then_latest(row: tuple[str, SimulatedCharger, str]) -> tuple[bool, float]:
        uid = row[2]
        agreed = at_emsp.get(uid) == state.hub_statuses.get(uid)
        return agreed, -state.changed_at.get(uid, 0.0)

    rows = sorted(evses, key=pending_then_latest)[:room]
    agreed = sum(1 for _, _, uid in evses if at_emsp.get(uid) == state.hub_statuses.get(uid))
    chargers = _table(
        f"Chargers ({versions.count('1.6')} OCPP 1.6, {versions.count('2.0.1')} OCPP 2.0.1)",
        *("station", "OCPP", "EVSE", "hub status", "eMSP sees"),
    )
    chargers.caption = (
        f"{len(rows)} of {len(evses)} EVSEs, latest changes first; the eMSP agrees on {agreed}"
    )
    chargers.caption_justify = "left"
    for station_id, charger, uid in rows:
        hub_status = state.hub_statuses.get(uid, "?")
        emsp_status = at_emsp.get(uid, "-")
        chargers.add_row(
            station_id,
            charger.station.ocpp_version,
            uid,
            hub_status,
            emsp_status if emsp_status == hub_status else f"[yellow]{emsp_status}[/yellow]",
        )
    return chargers


def _charges_header(state: DemoState, emsp: DemoEmsp) -> Text:
    from hub.sim.chargers import ChargeState

    ended = {ChargeState.DONE, ChargeState.REFUSED, ChargeState.FAILED}
    done = sum(1 for c in state.charges if c.state in ended)
    running = sum(1 for c in state.charges if c.state in {ChargeState.CHARGING, ChargeState.IDLE})
    return Text.assemble(
        ("hub demo", "bold"),
        f"  {done}/{len(state.charges)} charges done, {running} running · {state.speed:g}x"
        f" · eMSP has {len(emsp.sessions)} sessions, {len(emsp.cdrs)} CDRs",
    )


def _charges_table(state: DemoState, emsp: DemoEmsp, room: int) -> Table:
    """One row per charge: those under way first, then the latest to end, then the next to
    start."""
    from hub.sim.chargers import ChargeState

    order = {ChargeState.CHARGING: 0, ChargeState.IDLE: 0, ChargeState.WAITING: 2}

    def running_ended_waiting(charge: Charge) -> tuple[int, int]:
        group = order.get(charge.state, 1)
        return group, charge.number if group == 2 else -charge.number

    rows = sorted(state.charges, key=running_ended_waiting)[:room]
    finished = sum(1 for c in state.charges if c.state is ChargeState.DONE)
    billed = sum(1 for c in state.charges if _cdr_of(emsp, c, state.references))
    table = _table("Charges", "#", "EVSE", "OCPP", "state", "kWh", "eMSP session", "CDR")
    table.caption = (
        f"{len(rows)} of {len(state.charges)} charges; {finished} finished, {billed} billed"
    )
    table.caption_justify = "left"
    for charge in rows:
        session = _session_of(emsp, charge, state.references)
        seen = f"{session.get('status')} {session.get('kwh')}" if session else "-"
        cdr = _cdr_of(emsp, charge, state.references)
        total = (
            f"{Decimal(str(cdr['total_cost']['excl_vat'])):.2f} {cdr['currency']}" if cdr else "-"
        )
        table.add_row(
            str(charge.number),
            charge.evse_uid,
            charge.ocpp_version,
            str(charge.state),
            _kwh(charge.kwh),
            seen,
            total,
        )
    return table


def _kwh(kwh: Decimal) -> str:
    """Energy as the meter counts it (whole Wh): 36.08, 69, 0."""
    return f"{kwh.normalize():f}" if kwh else "0"


def _cdrs_of(emsp: DemoEmsp, charge: Charge, references: dict[int, str]) -> list[dict[str, Any]]:
    """The CDRs the eMSP received for a charge: by its app's reference, else by where and when
    it started."""
    if charge.number in references:
        return emsp.cdrs_of_reference(references[charge.number])
    if charge.started_at is None:
        return []
    return emsp.cdr_of_charge(charge.evse_uid, charge.started_at)


def _session_of(
    emsp: DemoEmsp, charge: Charge, references: dict[int, str]
) -> dict[str, Any] | None:
    if charge.number in references:
        return emsp.session_of_reference(references[charge.number])
    if charge.started_at is None:
        return None
    return emsp.session_of_charge(charge.evse_uid, charge.started_at)


def _cdr_of(
    emsp: DemoEmsp, charge: Charge, references: dict[int, str] | None = None
) -> dict[str, Any] | None:
    found = _cdrs_of(emsp, charge, references or {}) if charge.started_at else []
    return found[0] if len(found) == 1 else None


def summary_note(summary: dict[str, Any]) -> str:
    """Why the eMSP received fewer PATCHes than the stations sent status changes: no loss."""
    patches = int(summary["emsp_received"].get("PATCH locations", 0))
    changes = int(summary["status_changes_sent"])
    note = f"{patches} PATCHes delivered for {changes} status changes"
    if summary["emsp_matches_hub"]:
        note += (
            ", and no update was lost: a station status that maps to the OCPI status its EVSE"
            " already has sends no PATCH, and a newer status of an EVSE replaces its older"
            " PATCH while that one is undelivered. The eMSP's final view matches the hub's."
        )
    else:
        note += (
            f". The eMSP's final view differs from the hub's on {len(summary['mismatched'])}"
            " EVSEs (see mismatched)."
        )
    return note


def charges_note(summary: dict[str, Any]) -> str:
    """What the check of the charges found."""
    finished, count = summary["charges_finished"], summary["charges"]
    if not count:
        return "No charge was run."
    if summary["cdrs_match"]:
        return (
            f"{finished} of {count} charges finished, and each reached the eMSP as exactly one"
            " CDR whose total the hub recomputes to the cent from the CDR's own tariff"
            " (tariffs[0]) and charging periods (hub.domain.pricing.price_session)."
        )
    problems = summary["charge_problems"]
    return f"{len(problems)} problems with the charges and their CDRs: " + "; ".join(problems)


def charges_table(rows: list[dict[str, Any]]) -> Table:
    """Per charge: its energy, the CDR total the eMSP received and the recomputed one."""
    table = Table(title="Charges and their CDRs", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("#", "EVSE", "OCPP", "kWh", "min", "CDR total", "recomputed", ""):
        right = column in {"#", "kWh", "min", "CDR total", "recomputed"}
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for row in rows:
        table.add_row(
            str(row["number"]),
            row["evse_uid"],
            row["ocpp"],
            row["kwh"],
            row["minutes"],
            row["cdr_total"],
            row["recomputed"],
            "ok" if row["ok"] else "[red]NO[/red]",
        )
    return table


def summary_panel(summary: dict[str, Any]) -> Panel:
    table = Table(title="Demo summary", show_header=False)
    for key, value in summary.items():
        if key == "charge_rows":
            continue
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    parts: list[Any] = [table, Text(summary_note(summary))]
    if summary.get("charge_rows"):
        parts.append(charges_table(summary["charge_rows"]))
    if "charges" in summary:
        parts.append(Text(charges_note(summary)))
    if "app_start" in summary:
        parts.append(Text(app_note(summary)))
    return Panel(Group(*parts))


def app_note(summary: dict[str, Any]) -> str:
    """What the check of the app's commands found."""
    if not summary["app_commands_ok"]:
        return "Problems with the app's commands: " + "; ".join(summary["app_problems"])
    start = summary["app_start"]
    note = (
        f"The app's START_SESSION at {start['evse']} ({start.get('START_SESSION')}) and"
        f" STOP_SESSION ({start.get('STOP_SESSION')}) reached the eMSP as a session with"
        f" auth_method COMMAND and one CDR carrying authorization_reference {APP_START_REF}."
    )
    reservation = summary["app_reservation"]
    if reservation.get("skipped"):
        return note + f" No reservation: {reservation['skipped']}."
    return note + (
        f" RESERVE_NOW at {reservation['evse']} ({reservation.get('RESERVE_NOW')}) made it"
        " RESERVED; the driver's card started the charge there on the reservation, billed"
        f" with authorization_reference {APP_RESERVATION_REF}."
    )


def demo_charges(
    chargers: list[SimulatedCharger], count: int, drivers: list[str], rng: random.Random
) -> list[tuple[SimulatedCharger, ChargePlan]]:
    """``count`` plausible DC fast charges over the fleet's EVSEs in turn: a battery of 60-100
    kWh from 10-40 % to 80-95 %, at 50-150 kW on average; some cars stay plugged in 5-12
    minutes after (never before the tariffs' 10-minute grace is over). Meter values every
    simulated minute."""
    from hub.sim.chargers import ChargePlan, charge_slots

    slots = charge_slots(sorted(chargers, key=lambda c: c.station.station_id))
    plans = []
    for index in range(count):
        charger, ocpp_id = slots[index % len(slots)]
        battery_wh = rng.choice([60_000, 75_000, 82_000, 100_000])
        start_soc, end_soc = rng.randint(10, 40), rng.randint(80, 95)
        energy_wh = battery_wh * (end_soc - start_soc) // 100
        power_w = rng.choice([50_000, 75_000, 100_000, 150_000])
        charging_seconds = max(energy_wh * 3600 // power_w, 60)
        idle = rng.choice([0, 0, 300, 720]) if charging_seconds >= 12 * 60 else 0
        plan = ChargePlan(
            ocpp_id=ocpp_id,
            token_uid=drivers[index % len(drivers)],
            charging_seconds=charging_seconds,
            energy_wh=energy_wh,
            idle_seconds=idle,
            meter_interval_seconds=60,
            start_soc=start_soc,
            battery_wh=battery_wh,
        )
        plans.append((charger, plan))
    return plans


def check_charges(
    charges: list[Charge], emsp: DemoEmsp, references: dict[int, str] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Per charge, what the eMSP got and whether it adds up; and every problem found: a
    charge that did not finish, a finished one without exactly one CDR (or POSTed twice), a CDR
    whose total or energy differs from the recomputation or from what the charger delivered, a
    CDR the eMSP got for no charge."""
    from hub.sim.cdrs import check_cdr
    from hub.sim.chargers import ChargeState

    references = references or {}
    rows, problems, matched = [], [], set()
    duplicates = {
        (d.get("country_code"), d.get("party_id"), d.get("id")) for d in emsp.duplicate_cdrs
    }
    for charge in charges:
        where = f"charge {charge.number} at {charge.evse_uid}"
        row: dict[str, Any] = {
            "number": charge.number,
            "evse_uid": charge.evse_uid,
            "ocpp": charge.ocpp_version,
            "kwh": _kwh(charge.kwh),
            "minutes": f"{_minutes(charge):.0f}",
            "cdr_total": "-",
            "recomputed": "-",
            "ok": False,
        }
        rows.append(row)
        if charge.state is not ChargeState.DONE or charge.started_at is None:
            reason = charge.error or f"the hub answered {charge.authorization} for the token"
            problems.append(f"{where} did not finish ({charge.state}): {reason}")
            continue
        found = _cdrs_of(emsp, charge, references)
        if len(found) != 1:
            problems.append(f"{where}: the eMSP received {len(found)} CDRs for it, not 1")
            continue
        (cdr,) = found
        key = (cdr["country_code"], cdr["party_id"], cdr["id"])
        matched.add(key)
        check: CdrCheck = check_cdr(cdr, emsp.location_time_zone(cdr["cdr_location"]["id"]))
        row["cdr_total"] = f"{check.received.excl_vat:.2f} {check.currency}"
        if check.recomputed is not None:
            row["recomputed"] = f"{check.recomputed.excl_vat:.2f} {check.currency}"
        found_problems = []
        if not check.matches:
            found_problems.append(f"CDR {cdr['id']}: {check.problem}")
        if check.total_energy != charge.kwh:
            found_problems.append(
                f"CDR {cdr['id']} bills {check.total_energy} kWh, the charger delivered"
                f" {charge.kwh} kWh"
            )
        if key in duplicates:
            found_problems.append(f"CDR {cdr['id']} was POSTed more than once")
        session = _session_of(emsp, charge, references)
        if session is None or session.get("status") != "COMPLETED":
            status = session.get("status") if session else "no session"
            found_problems.append(f"the eMSP's session is {status}, not COMPLETED")
        problems += [f"{where}: {p}" for p in found_problems]
        row["ok"] = not found_problems
    for key in emsp.cdrs.keys() - matched:
        problems.append(f"the eMSP received CDR {key[2]}, of no charge the demo ran")
    return rows, problems


def free_app_evse(
    emsp: DemoEmsp,
    state: DemoState,
    busy: set[str],
    capability: str = "REMOTE_START_STOP_CAPABLE",
) -> tuple[str, SimulatedCharger, str] | None:
    """A (location, charger, EVSE uid) the app may use: AVAILABLE at the eMSP and at the hub,
    with ``capability``, and not in ``busy`` (where it is then added). 1.6 first (its
    20-character idTag makes the hub send the app's long uid as an alias)."""
    chargers = {uid: c for c in state.chargers.values() for uid in c.evse_uids}
    found = [
        (location.get("id", ""), chargers[evse["uid"]], evse["uid"])
        for location in sorted(emsp.locations.values(), key=lambda loc: str(loc.get("id")))
        for evse in location.get("evses", [])
        if evse.get("uid") in chargers
        and evse["uid"] not in busy
        and evse.get("status") == "AVAILABLE"
        and state.hub_statuses.get(evse["uid"]) == "AVAILABLE"
        and capability in (evse.get("capabilities") or [])
    ]
    found.sort(key=lambda row: row[1].station.ocpp_version != "1.6")
    if not found:
        return None
    busy.add(found[0][2])
    return found[0]


async def _until(check: Any, seconds: float = COMMAND_WAIT_SECONDS) -> Any:
    """Poll ``check()`` until it returns something truthy (or None after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        await asyncio.sleep(0.1)
    return None


async def _command(app: AppCommands, emsp: DemoEmsp, name: str, ref: str, sent: Any) -> str | None:
    """Record a command's CommandResponse, then wait for its CommandResult; the result (None
    if the response was not ACCEPTED or no result came)."""
    response = str((await sent).get("result"))
    app.results[name] = response
    if response != "ACCEPTED":
        return None
    results = await _until(lambda: emsp.command_results.get(ref))
    result = str(results[0]["result"]) if results else "no result"
    app.results[name] = f"{response}/{result}"
    return result


async def app_session(
    http: Any, emsp: DemoEmsp, target: tuple[str, SimulatedCharger, str] | None
) -> AppCommands:
    """The app's charge: START_SESSION at ``target`` (a free EVSE), the charge runs for
    :data:`APP_CHARGE_SECONDS`, STOP_SESSION (see the module docstring)."""
    app = AppCommands(APP_START_REF)
    if target is None:
        app.problems.append("no EVSE was free for the app's start")
        return app
    app.location_id, _, app.evse_uid = target
    token = emsp.app_token(str(uuid.uuid4()).upper())
    app.token_uid = token.uid
    sent = emsp.start_session(http, app.ref, token, app.location_id, app.evse_uid)
    if await _command(app, emsp, "START_SESSION", app.ref, sent) != "ACCEPTED":
        app.problems.append(f"START_SESSION: {app.results['START_SESSION']}")
        return app
    session = await _until(lambda: emsp.session_of_reference(app.ref))
    if session is None:
        app.problems.append("the eMSP got no session for the app's start")
        return app
    app.session_id = str(session["id"])
    await asyncio.sleep(APP_CHARGE_SECONDS)
    stop_ref = f"{app.ref}-STOP"
    sent = emsp.stop_session(http, stop_ref, app.session_id)
    if await _command(app, emsp, "STOP_SESSION", stop_ref, sent) != "ACCEPTED":
        app.problems.append(f"STOP_SESSION: {app.results['STOP_SESSION']}")
        return app
    # The result says the charger took the stop; the app then sees its session end.
    await _until(lambda: (emsp.session_of_reference(app.ref) or {}).get("status") == "COMPLETED")
    return app


async def app_reservation(
    http: Any, emsp: DemoEmsp, target: tuple[str, SimulatedCharger, str] | None
) -> tuple[AppCommands, Charge | None]:
    """RESERVE_NOW at ``target`` (a free reservable EVSE) for one of the eMSP's drivers: the
    EVSE turns RESERVED at the eMSP, which gets the reservation as a session (RESERVATION);
    then the driver arrives and presents the card there, and the charger starts on the
    reservation (StartTransaction / TransactionEvent with its ``reservationId``): that session
    goes ACTIVE and is billed like the app's, with the RESERVE_NOW's
    ``authorization_reference``. The charge (real time, :data:`APP_CHARGE_SECONDS`) is
    returned for the demo's checks. Skipped, not failed, when the hub answers RESERVE_NOW with
    anything but ACCEPTED (NOT_SUPPORTED: no reservable EVSE, or a hub without reservations)."""
    from hub.sim.chargers import ChargePlan, FastForwardClock

    app = AppCommands(APP_RESERVATION_REF)
    if target is None:
        app.skipped = "no EVSE was free for a reservation"
        return app, None
    app.location_id, charger, app.evse_uid = target
    # A driver's card: the charger matches the idTag of the start with the reservation's.
    token = emsp.driver_token(emsp.drivers[0])
    app.token_uid = token.uid
    expiry = datetime.now(UTC) + timedelta(minutes=10)
    sent = emsp.reserve_now(
        http, app.ref, token, app.location_id, app.evse_uid, "DEMO-RES-1", expiry
    )
    result = await _command(app, emsp, "RESERVE_NOW", app.ref, sent)
    if app.results["RESERVE_NOW"].split("/")[0] != "ACCEPTED":
        app.skipped = f"the hub answered RESERVE_NOW {app.results['RESERVE_NOW']}"
        return app, None
    if result != "ACCEPTED":
        app.problems.append(f"RESERVE_NOW: {app.results['RESERVE_NOW']}")
        return app, None
    if not await _until(lambda: emsp.evse_statuses().get(app.evse_uid) == "RESERVED"):
        app.problems.append(f"the eMSP never saw {app.evse_uid} RESERVED")
    session = await _until(lambda: emsp.session_of_reference(app.ref))
    if session is None or session.get("status") != "RESERVATION":
        app.problems.append("the eMSP got no RESERVATION session for the reservation")
    ocpp_id = charger.station.ocpp_ids[charger.station.evse_uids.index(app.evse_uid)]
    seconds = max(int(APP_CHARGE_SECONDS), 1)
    plan = ChargePlan(
        ocpp_id, token.uid, seconds, 150_000 * seconds // 3600, meter_interval_seconds=1
    )
    charge = await charger.charge(plan, FastForwardClock())
    app.results["charge"] = f"{charge.state} on reservation {charge.reservation_id}"
    if charge.reservation_id is None:
        app.problems.append("the charger did not start the charge on the reservation")
    session = emsp.session_of_reference(app.ref)
    app.session_id = str(session["id"]) if session else None
    return app, charge


def check_app(app: AppCommands, emsp: DemoEmsp) -> list[str]:
    """What is wrong with an app's charge as the eMSP received it: its session must be
    COMPLETED with auth_method COMMAND, and exactly one CDR must carry its
    authorization_reference, with the app's token."""
    if app.skipped:
        return []
    problems = list(app.problems)
    if app.session_id is None:
        return problems
    session = emsp.session_of_reference(app.ref)
    if session is None or session.get("status") != "COMPLETED":
        problems.append(
            f"the app's session is {session.get('status') if session else 'missing'}, not COMPLETED"
        )
    elif session.get("auth_method") != "COMMAND":
        problems.append(f"the app's session has auth_method {session.get('auth_method')}")
    cdrs = emsp.cdrs_of_reference(app.ref)
    if len(cdrs) != 1:
        problems.append(f"the eMSP got {len(cdrs)} CDRs with authorization_reference {app.ref}")
    else:
        token = cdrs[0].get("cdr_token") or {}
        if cdrs[0].get("auth_method") != "COMMAND" or token.get("uid") != app.token_uid:
            problems.append(
                f"the app's CDR has auth_method {cdrs[0].get('auth_method')} and token"
                f" {token.get('uid')}"
            )
    return [f"{app.ref}: {p}" for p in problems]


def _minutes(charge: Charge) -> float:
    """How long a charge lasted (an app's charge ends when the app stops it), or was planned."""
    if charge.started_at and charge.stopped_at:
        return (charge.stopped_at - charge.started_at).total_seconds() / 60
    return charge.plan.seconds / 60


def delivered(state: DemoState, emsp: DemoEmsp) -> bool:
    """The eMSP has the hub's EVSE statuses and a CDR for every finished charge, and no charge
    is under way."""
    from hub.sim.chargers import ChargeState

    if any(emsp.evse_statuses().get(u) != s for u, s in state.hub_statuses.items()):
        return False
    if any(c.state in {ChargeState.CHARGING, ChargeState.IDLE} for c in state.charges):
        return False  # an app's charge still stopping
    return all(
        _cdr_of(emsp, charge, state.references) is not None
        for charge in state.charges
        if charge.state is ChargeState.DONE
    )


async def drive(
    stations: list[SimulatedCharger], state: DemoState, duration: float, rng: random.Random
) -> None:
    """Random, plausible status changes until ``duration`` is over."""
    deadline = state.started + duration
    while time.monotonic() < deadline:
        charger = rng.choice(stations)
        try:
            await charger.random_step(rng)
            state.sent += 1
        except Exception as exc:
            state.errors.append(f"{charger.station.station_id}: {exc!r}")
        await asyncio.sleep(rng.uniform(0.05, 0.4))


async def run_demo(
    settings: Settings,
    *,
    sites: int,
    duration: float,
    emsp_port: int,
    seed_value: int,
    charges: int = 8,
    speed: float = 1200.0,
    console: Console = default_console,
) -> dict[str, Any]:
    import httpx

    from hub.app import create_app
    from hub.persistence.session import (
        create_engine,
        create_session_factory,
        dispose_engine,
        session_scope,
    )
    from hub.services.partners import PartnerService
    from hub.sim.chargers import Charge, ChargeProfile, ChargeState, SimulatedCharger, run_charges
    from hub.sim.emsp import DEMO_EMSP_PARTY, DemoEmsp

    progress(console, f"seeding a sample network of {sites} site{'' if sites == 1 else 's'}…")
    stations, evse_count = await seed(settings, sites, seed_value)
    emsp = DemoEmsp(base_url=f"http://127.0.0.1:{emsp_port}")
    state = DemoState(speed=speed)
    rng = random.Random(seed_value)  # noqa: S311 - simulation
    progress(console, f"starting hub on :{settings.server.port} and the demo eMSP on :{emsp_port}…")
    async with (
        serving(create_app(settings), settings.server.port),
        serving(emsp.app(), emsp_port),
        httpx.AsyncClient(timeout=10) as http,
    ):
        progress(console, "demo eMSP registering with the hub (OCPI credentials handshake)…")
        engine = create_engine(settings.database.url)
        async with session_scope(create_session_factory(engine)) as session:
            _, token_a = await PartnerService(session).invite(
                "demo-emsp", parties=[DEMO_EMSP_PARTY]
            )
        await dispose_engine(engine)
        await emsp.register(http, settings.versions_url, token_a)
        progress(
            console,
            f"demo eMSP pushing {len(emsp.drivers)} driver tokens to the hub (OCPI Tokens PUT)…",
        )
        await emsp.push_tokens(http)
        v16 = sum(1 for s in stations if s.ocpp_version == "1.6")
        progress(
            console,
            f"{len(stations)} chargers booting ({v16} OCPP 1.6, {len(stations) - v16} OCPP"
            f" 2.0.1; {evse_count} EVSEs)…",
        )
        ws_url = settings.public_url.replace("http://", "ws://") + "/ocpp"

        def app_charge(charge: Charge) -> None:
            if charge not in state.charges:
                charge.number = len(state.charges) + 1
                state.charges.append(charge)

        for station in stations:
            # The app's charges: 150 kW from the start, a meter value every second, until the
            # app stops them.
            charger = SimulatedCharger(
                station,
                ws_url,
                remote_profile=ChargeProfile(
                    charging_seconds=3600, energy_wh=150_000, meter_interval_seconds=1
                ),
                on_remote_charge=app_charge,
            )
            await charger.connect()
            await charger.boot()
            await charger.all_available()
            state.chargers[station.station_id] = charger
        plans = demo_charges(list(state.chargers.values()), charges, emsp.drivers, rng)
        then = f", then {charges} charges replayed at {speed:g}x real time" if charges else ""
        progress(console, f"traffic for {duration:.0f} s{then}…")
        state.started = time.monotonic()

        def screen_view() -> Group:
            return view(state, emsp, duration, height=console.size.height)

        async def watch(task: asyncio.Future[_T]) -> _T:
            while not task.done():
                await refresh_hub_statuses(settings, state)
                screen.update(screen_view())
                await asyncio.sleep(0.5)
            return await task

        with Live(screen_view(), console=console, refresh_per_second=4) as screen:
            await watch(
                asyncio.create_task(drive(list(state.chargers.values()), state, duration, rng))
            )
            state.charges = [
                Charge(
                    number,
                    charger.station.station_id,
                    charger.station.ocpp_version,
                    charger.evse_uid_of(plan.ocpp_id),
                    plan,
                )
                for number, (charger, plan) in enumerate(plans, start=1)
            ]
            busy = {charge.evse_uid for charge in state.charges}
            replay = run_charges(
                plans,
                concurrent=max(len(plans), 1),
                speed=speed,
                stagger_seconds=120,
                charges=list(state.charges),
            )
            # The app's charges run beside the replayed ones, on EVSEs none of them uses.
            start_at = free_app_evse(emsp, state, busy)
            reserve_at = free_app_evse(emsp, state, busy, "RESERVABLE")
            together = asyncio.gather(
                replay,
                app_session(http, emsp, start_at),
                app_reservation(http, emsp, reserve_at),
            )
            _, app, (reservation, reserved_charge) = await watch(asyncio.ensure_future(together))
            if reserved_charge is not None:
                app_charge(reserved_charge)
                state.references[reserved_charge.number] = reservation.ref
            for charge in state.charges:
                if app.session_id and charge.evse_uid == app.evse_uid:
                    state.references[charge.number] = app.ref
            # Let the last pushes arrive, then compare both sides.
            deadline = time.monotonic() + DELIVERY_DEADLINE_SECONDS
            while time.monotonic() < deadline:
                await refresh_hub_statuses(settings, state)
                screen.update(screen_view())
                if delivered(state, emsp):
                    break
                await asyncio.sleep(0.25)
        if not console.is_terminal:
            console.line()  # rich ends the last view without a newline when not on a terminal
        for charger in state.chargers.values():
            await charger.close()
    at_emsp = emsp.evse_statuses()
    mismatched = {
        u: (s, at_emsp.get(u)) for u, s in state.hub_statuses.items() if at_emsp.get(u) != s
    }
    rows, problems = check_charges(state.charges, emsp, state.references)
    app_problems = check_app(app, emsp) + check_app(reservation, emsp)
    finished = [c for c in state.charges if c.state is ChargeState.DONE]
    return {
        "sites": sites,
        "evses": evse_count,
        "chargers": len(stations),
        "ocpp_1_6": v16,
        "ocpp_2_0_1": len(stations) - v16,
        "status_changes_sent": state.sent,
        "emsp_received": dict(emsp.counts),
        "emsp_locations": len(emsp.locations),
        "emsp_matches_hub": not mismatched,
        "mismatched": mismatched,
        "errors": state.errors[:10],
        "charges": len(state.charges),
        "charges_finished": len(finished),
        "kwh_delivered": f"{sum((c.kwh for c in finished), Decimal(0)):.3f}",
        "cdrs_received": len(emsp.cdrs),
        "cdr_duplicates": len(emsp.duplicate_cdrs),
        "cdrs_match": not problems,
        "charge_problems": problems[:10],
        "app_start": app.outcome(),
        "app_reservation": reservation.outcome(),
        "app_commands_ok": not app_problems,
        "app_problems": app_problems[:10],
        "charge_rows": rows,
    }


def demo(
    *,
    duration: float,
    sites: int,
    port: int,
    emsp_port: int,
    data_dir: Path,
    seed_value: int,
    charges: int = 8,
    speed: float = 1200.0,
    console: Console = default_console,
) -> None:
    """Run the hub, a demo eMSP and simulated chargers together, live."""
    progress(console, "loading the platform…")
    from hub.logs import configure_logging

    # The live view owns the terminal: only warnings, in the platform's one log format.
    configure_logging("WARNING")

    from hub.config import (
        DatabaseSettings,
        OcpiSettings,
        OcppSettings,
        PushSettings,
        ServerSettings,
        Settings,
    )
    from hub.persistence import migrations

    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    database = data_dir.resolve() / "demo.db"
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{database}"),
        server=ServerSettings(host="127.0.0.1", port=port),
        ocpi=OcpiSettings(public_url=f"http://127.0.0.1:{port}"),
        push=PushSettings(poll_interval_seconds=0.1),
        ocpp=OcppSettings(heartbeat_interval_seconds=60),
    )
    progress(console, f"applying migrations to {database}…")
    migrations.upgrade(settings.database.url)
    summary = asyncio.run(
        run_demo(
            settings,
            sites=sites,
            duration=duration,
            emsp_port=emsp_port,
            seed_value=seed_value,
            charges=charges,
            speed=speed,
            console=console,
        )
    )
    console.print(summary_panel(summary))
    if (
        not summary["emsp_matches_hub"]
        or summary["errors"]
        or not summary["cdrs_match"]
        or not summary["app_commands_ok"]
    ):
        raise typer.Exit(1)
