"""Fleet: the vehicles your customers run, and how many each account has.

Tessera finds this package through the ``tessera`` entry point in pyproject.toml, reads
the documents in ``metadata/`` by convention, and calls the hooks below.
"""

from __future__ import annotations

import datetime as dt
import re

import click

from core.hookspecs import hookimpl
from core.plugins import PluginInfo, Refusal
from core.records import Actor

from tessera_fleet import hookspecs

PLUGIN = PluginInfo(
    name="fleet",
    version="0.1.0",
    label={"en": "Fleet", "zh-CN": "车队管理"},
    tessera=">=0.1,<1",
    description="Vehicles of your customers: plates, mileage, inspections, and each account's fleet size.",
    hookspecs=hookspecs,
    record_objects=("vehicle",),
)

IN_SERVICE = ("active", "in_workshop")  # the statuses counted in an account's fleet_size


def normalise_plate(plate: str) -> str:
    """'sh a 12345' -> 'SHA12345': capitals, no spaces."""
    return re.sub(r"\s+", "", plate).upper()


# --- before a write: normalise the plate number, check the mileage -----------------------


@hookimpl
def tessera_before_create(event):
    if event.object == "vehicle":
        _normalise_plate(event)


@hookimpl
def tessera_before_update(event):
    if event.object == "vehicle":
        _normalise_plate(event)


def _normalise_plate(event) -> None:
    plate = event.values.get("plate_number")
    if plate is None:  # not among the changed fields of an update
        return
    normalised = normalise_plate(plate)
    if not normalised:
        raise Refusal("a plate number needs at least one letter or digit", field="plate_number")
    event.values["plate_number"] = normalised


@hookimpl
def tessera_validate_record(event):
    """The odometer only goes up. Updates carry the changed fields only: compare with ``previous``."""
    if event.object != "vehicle" or event.previous is None:
        return []
    new, old = event.values.get("mileage_km"), event.previous.get("mileage_km")
    if new is not None and old is not None and new < old:
        return [("mileage_km", f"the mileage cannot go down (it was {old} km)")]
    return []


# --- after a write: keep the customer's fleet_size up to date -----------------------------


@hookimpl
def tessera_after_create(event):
    if event.object == "vehicle":
        update_fleet_size(event.records, event.record["customer"])


@hookimpl
def tessera_after_update(event):
    if event.object != "vehicle":
        return
    if "customer" in event.changes:  # moved to another account: both totals change
        old, new = event.changes["customer"]
        update_fleet_size(event.records, old)
        update_fleet_size(event.records, new)
    elif "status" in event.changes:
        update_fleet_size(event.records, event.record["customer"])
    if event.changes.get("status", (None, None))[1] == "retired":
        event.hooks.fleet_vehicle_retired(vehicle=event.record, records=event.records)


@hookimpl
def tessera_after_delete(event):
    if event.object == "vehicle":
        update_fleet_size(event.records, event.previous["customer"])


def update_fleet_size(records, customer) -> None:
    """Count the account's vehicles in service and store the count on the account.

    ``customer`` is a lookup value as records show it ({"id": 7, "label": "Acme"}), a
    plain id (as in ``event.changes``) or None. ``records`` works inside the current
    transaction, so the vehicle just written is counted and a failure undoes both.

    The account is read before counting and written with the version read: if another
    transaction changes the account in between, the write fails with a Conflict (and is
    retried by the caller) instead of storing a count that missed the other's vehicle.
    """
    account_id = customer.get("id") if isinstance(customer, dict) else customer
    if account_id is None:
        return
    account = records.get("account", account_id)
    page = records.list("vehicle", {"customer": account_id, "status__in": ",".join(IN_SERVICE), "count": "exact", "limit": 1})
    records.update("account", account_id, {"fleet_size": page.count}, version=account["version"])


# --- a command: `tessera fleet due` ---------------------------------------------------------


@hookimpl
def tessera_cli_commands(cli):
    cli.add_command(fleet_commands)


@click.group("fleet")
def fleet_commands():
    """Vehicles of your customers (the Fleet plugin)."""


@fleet_commands.command("due")
@click.option("--within", default=30, show_default=True, metavar="DAYS", help="How many days ahead to look.")
@click.pass_obj
def inspections_due(ctx, within: int):
    """List the vehicles in service whose inspection is due within DAYS, or overdue."""
    until = dt.date.today() + dt.timedelta(days=within)
    params = {"next_inspection__lte": until.isoformat(), "status__in": ",".join(IN_SERVICE), "sort": "next_inspection"}
    shown = 0
    for vehicle in ctx.runtime.records.each(Actor.system(), "vehicle", params):
        customer = (vehicle["customer"] or {}).get("label") or "-"
        click.echo(f"{vehicle['next_inspection']}  {vehicle['plate_number']:<12}  {customer}")
        shown += 1
    if not shown:
        click.echo(f"No inspection is due in the next {within} days.")


# --- web routes: a page of the inspections due, and the same list as JSON (pages.py) --------


@hookimpl
def tessera_web_routes():
    from tessera_fleet import pages  # imported when the web application is built, not by every command

    return [pages.inspections_due_page, pages.mark_inspected, pages.inspections_due_api]
