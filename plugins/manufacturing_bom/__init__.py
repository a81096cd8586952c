"""BOM-linked manufacturing orders: versioned bills of materials and sales orders.

- A product has at most one active BOM: activating one makes the previous active BOM of
  the same product obsolete. Lines of an obsolete BOM are frozen.
- A sales order line pins the product's active BOM (and its revision) when it is
  created or its product changes; an obsolete or draft BOM given explicitly is refused.
  Line totals and the order's total are computed.
- ``explode`` walks active BOMs recursively into raw-material requirements; the
  ``tessera bom explode`` command and the ``manufacturing_bom.explode_order`` automation
  action use it.
- Marking an order delivered calls ``tessera_equipment_delivered`` (see hookspecs.py)
  once per serial number, for whichever plugin tracks installed equipment.
- An order's status moves ordered -> in production -> delivered, or is cancelled before it is
  delivered (and may be ordered again); a delivered order stays delivered. These are stage gates in
  sales_order.json (core/stage_gates.py), which administrators change in Setup. An order may be
  confirmed before it goes into production.
- An order whose total is above its customer's ``credit_limit`` is ``high_risk`` (computed on every
  save of the order, so when its lines change its total); a high-risk order is confirmed, put in
  production or delivered only once the approval process ``sales_order_credit`` (a manufacturing
  manager approves) has approved it.
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal, InvalidOperation

import click

from core.hookspecs import hookimpl
from core.plugins import AutomationAction, PluginInfo, Refusal

from . import hookspecs as delivery_hookspecs

PLUGIN = PluginInfo(
    name="manufacturing_bom",
    version="0.1.0",
    label={"en": "Manufacturing", "zh-CN": "生产制造"},
    tessera=">=0.1,<1",
    description="Multi-level versioned bills of materials and sales orders that pin a BOM version.",
    hookspecs=delivery_hookspecs,
    record_objects=('bom', 'bom_line', 'sales_order', 'sales_order_line'),
)

OBJECTS = frozenset({"bom", "bom_line", "sales_order", "sales_order_line"})
CENT = Decimal("0.01")


class BomError(ValueError):
    """A BOM explosion cannot be computed; the message says why."""


class BomCycleError(BomError):
    """Active BOMs contain each other, so the explosion would never end."""


# --- small helpers ------------------------------------------------------------------------------


def _ref(value):
    """The id of a lookup value, whether given as an id or as {"id", "label"}."""
    if isinstance(value, dict):
        value = value.get("id")
    return None if value is None else int(value)


def _label(value, fallback=""):
    return value.get("label") if isinstance(value, dict) and value.get("label") is not None else fallback


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _merged(event) -> dict:
    """The record as it will be: the stored record with the changed values on top."""
    return {**(event.previous or {}), **event.values}


def _all(records, object_name: str, params: dict) -> list[dict]:
    """Every live record matching ``params``."""
    return list(records.each(object_name, params))


def _get(records, object_name: str, record_id) -> dict | None:
    """A live record, or None: a missing one is reported by the record service's own check."""
    from core.records import NotFound

    if record_id is None:
        return None
    try:
        return records.get(object_name, record_id)
    except NotFound:
        return None


def active_bom(records, product_id) -> dict | None:
    """The product's active BOM, or None."""
    page = records.list("bom", {"product": int(product_id), "status": "active", "limit": 2})
    return page.items[0] if page.items else None


def serial_numbers(text) -> list[str]:
    """Serial numbers as typed: one per line, blank lines and surrounding spaces ignored."""
    return [line.strip() for line in str(text or "").splitlines() if line.strip()]


def _today() -> str:
    return dt.date.today().isoformat()


# --- record hooks ---------------------------------------------------------------------------------


@hookimpl
def tessera_before_create(event):
    if event.object not in OBJECTS:
        return
    if event.object == "bom":
        _prepare_bom(event, None)
    elif event.object == "bom_line":
        _check_bom_line(event, None)
    elif event.object == "sales_order":
        event.values["total_amount"] = "0.00"  # computed from the lines, which come later
        _prepare_delivery(event, None)
        _weigh_credit_risk(event)
    else:
        _prepare_order_line(event, None)


@hookimpl
def tessera_before_update(event):
    if event.object not in OBJECTS:
        return
    if event.object == "bom":
        _prepare_bom(event, event.previous)
    elif event.object == "bom_line":
        _check_bom_line(event, event.previous)
    elif event.object == "sales_order":
        if "total_amount" in event.values:  # computed: whatever is given, the lines decide
            event.values["total_amount"] = str(order_total(event.records, event.previous["id"]))
        _prepare_delivery(event, event.previous)
        _weigh_credit_risk(event)
    else:
        _prepare_order_line(event, event.previous)


@hookimpl
def tessera_before_delete(event):
    if event.object == "bom_line":
        _refuse_if_frozen(event.records, _ref(event.previous.get("bom")))


@hookimpl
def tessera_after_create(event):
    if event.object == "bom":
        _retire_other_active_boms(event.records, event.record)
    elif event.object == "sales_order_line":
        refresh_order_total(event.records, _ref(event.record["sales_order"]))


@hookimpl
def tessera_after_update(event):
    if event.object == "bom":
        if "status" in event.changes or "product" in event.changes:
            _retire_other_active_boms(event.records, event.record)
    elif event.object == "sales_order_line":
        if "sales_order" in event.changes:
            old_order = _ref(event.changes["sales_order"][0])
            if old_order is not None:
                refresh_order_total(event.records, old_order)
        if {"sales_order", "line_total"} & set(event.changes):
            refresh_order_total(event.records, _ref(event.record["sales_order"]))
    elif event.object == "sales_order":
        if "status" in event.changes and event.changes["status"][1] == "delivered":
            _hand_over_delivered_equipment(event)


@hookimpl
def tessera_after_delete(event):
    if event.object == "sales_order_line":
        refresh_order_total(event.records, _ref(event.previous["sales_order"]))


# --- BOMs -----------------------------------------------------------------------------------------


def _inactive_words() -> dict:
    """A pinned BOM that is not active, per status: with or without an active revision to point to."""
    states = {"draft": ("still a draft", "仍是草稿"), "obsolete": ("obsolete", "已作废")}
    words = {}
    for status, (en, zh) in states.items():
        words[f"manufacturing_bom.{status}_not_active"] = {
            "en": f"BOM '{{bom}}' version {{revision}} of {{product}} is {en}; the active version is {{active}}",
            "zh-CN": f"{{product}} 的 BOM“{{bom}}”第 {{revision}} 版{zh}；当前生效的是第 {{active}} 版。"}
        words[f"manufacturing_bom.{status}_none_active"] = {
            "en": f"BOM '{{bom}}' version {{revision}} of {{product}} is {en}; {{product}} has no active BOM; activate one first",
            "zh-CN": f"{{product}} 的 BOM“{{bom}}”第 {{revision}} 版{zh}；{{product}} 没有生效的 BOM，请先启用一个。"}
    return words


# What this plugin's refusals say, in both languages (tessera_words).
WORDS = {
    "manufacturing_bom.revision_taken": {"en": "{product} already has a BOM with revision {revision} ('{bom}'); choose another revision",
                                         "zh-CN": "{product} 已有修订版为 {revision} 的 BOM（“{bom}”）；请选择其他修订版。"},
    "manufacturing_bom.obsolete": {"en": "BOM '{bom}' revision {revision} is obsolete and kept as orders were built to it; create a new revision to change it",
                                   "zh-CN": "BOM“{bom}”修订版 {revision} 已作废，因已有订单按它生产而保留；如需修改，请新建修订版。"},
    "manufacturing_bom.own_component": {"en": "{product} cannot be a component of its own BOM", "zh-CN": "{product} 不能作为自己 BOM 的组件。"},
    "manufacturing_bom.other_product": {"en": "BOM '{bom}' is for {for}, not for {product}", "zh-CN": "BOM“{bom}”属于 {for}，而不是 {product}。"},
    "manufacturing_bom.no_active": {"en": "{product} has no active BOM; activate one first", "zh-CN": "{product} 没有生效的 BOM；请先启用一个。"},
    "manufacturing_bom.serial_twice": {"en": "serial number {serial} is listed twice", "zh-CN": "序列号 {serial} 列出了两次。"},
    "manufacturing_bom.too_many_serials": {"en": "{count} serial numbers are given for a quantity of {quantity}; give at most one per unit",
                                           "zh-CN": "数量为 {quantity}，却给出了 {count} 个序列号；每件最多一个。"},
    "manufacturing_bom.credit_approval_needed": {
        "en": "this order's total ({total}) is above the customer's credit limit ({limit}): submit it for credit approval and have it approved before it moves on",
        "zh-CN": "此订单总额（{total}）超过客户的信用额度（{limit}）：请先提交信用审批并获得批准，再推进订单。"},
    **_inactive_words(),
}


@hookimpl
def tessera_words():
    return WORDS


def _prepare_bom(event, previous: dict | None) -> None:
    values, records = event.values, event.records
    record = _merged(event)
    product_id, revision = _ref(record.get("product")), record.get("revision")
    product = _get(records, "product", product_id)
    if product is None:
        return
    if previous is None or "product" in values or "revision" in values:
        for other in records.list("bom", {"product": product_id, "revision": revision, "limit": 2}).items:
            if previous is None or other["id"] != previous["id"]:
                raise Refusal(code="manufacturing_bom.revision_taken", field="revision",
                              params={"product": product["name"], "revision": revision, "bom": other["name"]})
    if not record.get("name"):
        values["name"] = f"{product['name']} rev {revision}"
    becomes_active = record.get("status") == "active" and (previous is None or previous.get("status") != "active")
    if becomes_active and not record.get("effective_from"):
        values["effective_from"] = _today()


def _retire_other_active_boms(records, bom: dict) -> None:
    """One active BOM per product: the one just activated wins, the others become obsolete."""
    if bom.get("status") != "active":
        return
    for other in _all(records, "bom", {"product": _ref(bom["product"]), "status": "active"}):
        if other["id"] != bom["id"]:
            records.update("bom", other["id"], {"status": "obsolete"})


def _refuse_if_frozen(records, bom_id) -> None:
    bom = _get(records, "bom", bom_id)
    if bom is not None and bom.get("status") == "obsolete":
        raise Refusal(code="manufacturing_bom.obsolete", field="bom", params={"bom": bom["name"], "revision": bom["revision"]})


def _check_bom_line(event, previous: dict | None) -> None:
    record = _merged(event)
    bom_id = _ref(record.get("bom"))
    _refuse_if_frozen(event.records, bom_id)
    if previous is not None and _ref(previous.get("bom")) != bom_id:
        _refuse_if_frozen(event.records, _ref(previous.get("bom")))  # moving a line out of a frozen BOM
    bom = _get(event.records, "bom", bom_id)
    if bom is not None and _ref(record.get("component")) == _ref(bom["product"]):
        raise Refusal(code="manufacturing_bom.own_component", field="component", params={"product": _label(bom["product"], "-")})


# --- sales order lines ----------------------------------------------------------------------------


def _prepare_order_line(event, previous: dict | None) -> None:
    values, records = event.values, event.records
    record = _merged(event)
    product_id = _ref(record.get("product"))
    product_changed = previous is None or ("product" in values and _ref(values["product"]) != _ref(previous.get("product")))
    bom_given = "bom" in values and values["bom"] is not None and (previous is None or _ref(values["bom"]) != _ref(previous.get("bom")))
    if product_changed or bom_given:
        product = _get(records, "product", product_id)
        if product is None:
            return
        bom = _pin_bom(records, product, _ref(values["bom"]) if bom_given else None)
        values["bom"] = bom["id"] if bom else None
        values["bom_version"] = bom["revision"] if bom else None
        if record.get("unit_price") is None and product.get("unit_price") is not None:
            values["unit_price"] = product["unit_price"]
    else:  # the pinned BOM is read-only: keep it whatever the caller sent
        for name in ("bom", "bom_version"):
            if name in values:
                values[name] = _ref(previous.get(name)) if name == "bom" else previous.get(name)
    record = _merged(event)
    quantity, price = _decimal(record.get("quantity")), _decimal(record.get("unit_price"))
    if previous is None or {"quantity", "unit_price", "line_total"} & set(values):
        total = None if quantity is None or price is None else (quantity * price).quantize(CENT)
        values["line_total"] = None if total is None else str(total)
    if "serial_numbers" in values or "quantity" in values:
        _check_serial_numbers(serial_numbers(record.get("serial_numbers")), quantity)


def _pin_bom(records, product: dict, given_id: int | None) -> dict | None:
    """The BOM a new line is built to: the product's active one, or the one given if active."""
    active = active_bom(records, product["id"])
    given = _get(records, "bom", given_id)
    if given_id is not None and given is None:
        return {"id": given_id, "revision": None}  # refused by the record service: no such BOM
    if given is not None:
        if _ref(given["product"]) != product["id"]:
            raise Refusal(code="manufacturing_bom.other_product", field="bom",
                          params={"bom": given["name"], "for": _label(given["product"]), "product": product["name"]})
        if given["status"] != "active":
            named = {"bom": given["name"], "revision": given["revision"], "product": product["name"]}
            if active is not None:
                raise Refusal(code=f"manufacturing_bom.{given['status']}_not_active", field="bom", params={**named, "active": active["revision"]})
            raise Refusal(code=f"manufacturing_bom.{given['status']}_none_active", field="bom", params=named)
        return given
    if active is None and records.list("bom", {"product": product["id"], "limit": 1}).items:
        # Built to a BOM, but no revision is released: nothing to build it to.
        raise Refusal(code="manufacturing_bom.no_active", field="bom", params={"product": product["name"]})
    return active  # None: a product without any BOM (a spare part, say) is sold as it is


def _check_serial_numbers(serials: list[str], quantity: Decimal | None) -> None:
    repeated = sorted({s for s in serials if serials.count(s) > 1})
    if repeated:
        raise Refusal(code="manufacturing_bom.serial_twice", field="serial_numbers", params={"serial": repeated[0]})
    if quantity is not None and len(serials) > quantity:
        raise Refusal(code="manufacturing_bom.too_many_serials", field="serial_numbers", params={"count": len(serials), "quantity": str(quantity)})


def order_total(records, order_id) -> Decimal:
    total = Decimal("0")
    for line in _all(records, "sales_order_line", {"sales_order": int(order_id)}):
        total += _decimal(line.get("line_total")) or Decimal("0")
    return total.quantize(CENT)


def refresh_order_total(records, order_id) -> None:
    if order_id is not None:
        records.update("sales_order", order_id, {"total_amount": str(order_total(records, order_id))})


# --- credit risk ----------------------------------------------------------------------------------

CREDIT_PROCESS = "sales_order_credit"  # metadata/approval_sales_order_credit.json
NEEDS_CREDIT_APPROVAL = ("confirmed", "in_production", "delivered")


def _weigh_credit_risk(event) -> None:
    """``high_risk``: the order's total is above its customer's credit limit (none: no limit). A high-risk order moves
    on from ordered (confirmed, in production, delivered) only once its credit approval is approved."""
    record = _merged(event)
    customer = _ref(record.get("customer"))
    limit = None
    if customer is not None:
        account = _get(event.records, "account", customer)
        limit = _decimal((account or {}).get("credit_limit"))
    total = _decimal(record.get("total_amount")) or Decimal("0")
    high = limit is not None and total > limit
    if event.previous is None or bool(event.previous.get("high_risk")) != high:
        event.values["high_risk"] = high
    moving = "status" in event.values and (event.previous is None or event.values["status"] != event.previous.get("status"))
    if high and moving and event.values["status"] in NEEDS_CREDIT_APPROVAL:
        approved = event.previous is not None and _credit_approved(event.records.connection, event.previous["id"])
        if not approved:
            raise Refusal(code="manufacturing_bom.credit_approval_needed", field="status",
                          params={"total": str(total.quantize(CENT)), "limit": str(limit.quantize(CENT))})


def _credit_approved(conn, order_id: int) -> bool:
    """The order's last credit approval is approved, and its total has not changed since: an approval is for the total
    the approver saw (a larger order needs a new one)."""
    import sqlalchemy as sa  # noqa: PLC0415

    from core.approvals.service import latest  # noqa: PLC0415 - core's approvals, read in this transaction
    from core.coretables import field_history  # noqa: PLC0415

    row = latest(conn, "sales_order", order_id, CREDIT_PROCESS)
    if row is None or row.status != "approved":
        return False
    changed = conn.execute(sa.select(sa.func.max(field_history.c.changed_at)).where(
        field_history.c.object == "sales_order", field_history.c.record_id == order_id, field_history.c.field == "total_amount")).scalar()
    return changed is None or _utc(changed) <= _utc(row.finished_at)


def _utc(moment):
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


# --- delivery -------------------------------------------------------------------------------------


def _prepare_delivery(event, previous: dict | None) -> None:
    record = _merged(event)
    delivered_now = record.get("status") == "delivered" and (previous is None or previous.get("status") != "delivered")
    if delivered_now and not record.get("delivered_on"):
        event.values["delivered_on"] = _today()


def _hand_over_delivered_equipment(event) -> None:
    """Tell whoever tracks installed equipment about each delivered serial number."""
    deliver = getattr(event.hooks, "tessera_equipment_delivered", None)
    if deliver is None or not deliver.get_hookimpls():
        return
    order = event.record
    for line in _all(event.records, "sales_order_line", {"sales_order": order["id"], "sort": "id"}):
        for serial in serial_numbers(line.get("serial_numbers")):
            deliver(
                records=event.records,
                customer_id=_ref(order["customer"]),
                product_id=_ref(line["product"]),
                serial_number=serial,
                delivered_on=order.get("delivered_on"),
                order_reference=order["order_number"],
            )


# --- BOM explosion --------------------------------------------------------------------------------


class Explosion:
    """Material requirements of products, walking active BOMs level by level.

    A component with its own active BOM is a sub-assembly and is expanded; any other
    component is a raw material. Each level multiplies the quantity by the line's
    quantity and its scrap allowance (quantity x (1 + scrap_percent / 100)).
    """

    def __init__(self, records) -> None:
        self.records = records
        self.requirements: dict[int, Decimal] = {}
        self.units: dict[int, str] = {}
        self.names: dict[int, str] = {}
        self._active: dict[int, dict | None] = {}
        self._lines: dict[int, list[dict]] = {}

    def product(self, product_id: int, quantity: Decimal, path: tuple[int, ...] = ()) -> None:
        bom = self._active_bom(product_id)
        if bom is None:
            self.requirements[product_id] = self.requirements.get(product_id, Decimal("0")) + quantity
            return
        self.bom(bom, quantity, path + (product_id,))

    def bom(self, bom: dict, quantity: Decimal, path: tuple[int, ...]) -> None:
        self.names.setdefault(_ref(bom["product"]), _label(bom["product"]))
        for line in self._bom_lines(bom["id"]):
            component = _ref(line["component"])
            self.names.setdefault(component, _label(line["component"]))
            if component in path:
                cycle = path[path.index(component):] + (component,)
                raise BomCycleError(
                    "BOM cycle: " + " -> ".join(f"{self.names.get(p) or 'product'} ({p})" for p in cycle)
                    + f"; a product cannot contain itself: fix the active BOM '{bom['name']}'"
                )
            scrap = _decimal(line.get("scrap_percent")) or Decimal("0")
            needed = quantity * (_decimal(line["quantity"]) or Decimal("0")) * (1 + scrap / 100)
            self.units.setdefault(component, line.get("unit") or "each")
            self.product(component, needed, path)

    def _active_bom(self, product_id: int) -> dict | None:
        if product_id not in self._active:
            self._active[product_id] = active_bom(self.records, product_id)
        return self._active[product_id]

    def _bom_lines(self, bom_id: int) -> list[dict]:
        if bom_id not in self._lines:
            self._lines[bom_id] = _all(self.records, "bom_line", {"bom": bom_id, "sort": "position"})
        return self._lines[bom_id]


def _quantity(value) -> Decimal:
    number = _decimal(value)
    if number is None or not number.is_finite() or number <= 0:
        raise BomError(f"'{value}' is not a quantity (a number greater than 0)")
    return number


def explode(records, product_id, quantity=1) -> dict[int, Decimal]:
    """Total raw-material requirements to build ``quantity`` of a product: {product id: quantity}.

    Walks the active BOMs recursively. A product without an active BOM is itself the
    requirement. Raises BomCycleError naming the products when active BOMs contain
    each other.
    """
    explosion = Explosion(records)
    explosion.product(int(product_id), _quantity(quantity))
    return explosion.requirements


def explode_order(records, order_id=None, *, record_id=None, **_rule) -> dict[int, Decimal]:
    """Raw-material requirements of a whole sales order: {product id: quantity}. A workflow rule calls it with the
    order as ``record_id`` (and the rule's other arguments, unused here).

    Each line is built to its pinned BOM; sub-assemblies below it to their active BOMs.
    """
    order = records.get("sales_order", order_id if order_id is not None else record_id)
    explosion = Explosion(records)
    for line in _all(records, "sales_order_line", {"sales_order": order["id"]}):
        quantity = Decimal(str(line["quantity"]))
        product_id = _ref(line["product"])
        if line.get("bom") is not None:
            explosion.bom(records.get("bom", _ref(line["bom"])), quantity, (product_id,))
        else:
            explosion.product(product_id, quantity)
    return explosion.requirements


@hookimpl
def tessera_automation_actions():
    return [
        AutomationAction(
            name="manufacturing_bom.explode_order",
            label={"en": "Material requirements of the order", "zh-CN": "计算订单物料需求"},
            run=explode_order,
            plugin="manufacturing_bom",
        )
    ]


# --- command line ---------------------------------------------------------------------------------


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


@click.group("bom")
def bom_commands() -> None:
    """Bills of materials."""


@bom_commands.command("explode")
@click.argument("product_id", type=int)
@click.option("--quantity", default="1", show_default=True, metavar="N", help="How many units of the product to build.")
@click.pass_obj
def explode_command(ctx, product_id: int, quantity: str) -> None:
    """Print the raw materials needed to build QUANTITY of PRODUCT_ID, through every BOM level."""
    from core.records import Actor, NotFound, TransactionRecords

    def refuse(message: str) -> None:
        click.echo(message, err=True)
        sys.exit(2)

    try:
        amount = _quantity(quantity)
    except BomError as exc:
        refuse(str(exc))
    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    with runtime.reading() as (conn, schema):
        records = TransactionRecords(runtime.records, conn, schema, Actor(None, ctx.who))
        try:
            product = records.get("product", product_id)
            explosion = Explosion(records)
            explosion.product(product["id"], amount)
        except (NotFound, BomError) as exc:
            refuse(str(exc))
        bom = active_bom(records, product["id"])
    if bom is None:
        click.echo(f"{product['name']} (product {product['id']}) has no active BOM: it is itself the requirement.")
        explosion.units.setdefault(product["id"], product.get("unit") or "each")
    else:
        click.echo(f"Material requirements for {_number(amount)} x {product['name']} (product {product['id']}), "
                   f"BOM '{bom['name']}' revision {bom['revision']}:")
    rows = sorted(explosion.requirements.items(), key=lambda item: (explosion.names.get(item[0]) or product["name"], item[0]))
    width = max([len(explosion.names.get(pid) or product["name"]) for pid, _ in rows] + [9])
    click.echo(f"  {'component':<{width}}  {'product':>7}  {'quantity':>12}  unit")
    for pid, needed in rows:
        name = explosion.names.get(pid) or product["name"]
        click.echo(f"  {name:<{width}}  {pid:>7}  {_number(needed):>12}  {explosion.units.get(pid, 'each')}")


@hookimpl
def tessera_cli_commands(cli):
    cli.add_command(bom_commands)
