"""Hooks the manufacturing plugin calls for other plugins to implement.

Implement them with ``@hookimpl(optionalhook=True)`` (``from core.hookspecs import
hookimpl``) so that your plugin still loads when this one is not enabled.
"""

from __future__ import annotations

from core.hookspecs import hookspec


@hookspec
def tessera_equipment_delivered(records, customer_id, product_id, serial_number, delivered_on, order_reference):
    """A piece of equipment was delivered to a customer: hand it over to service.

    Called inside the transaction that marks a sales order delivered, once for each
    serial number given on each of its lines (``serial_numbers``, one per line). Units
    delivered without a serial number are not reported: equipment is tracked by serial.

    ``records``: record access in the same transaction (create the equipment with it;
    an exception rolls the delivery back). ``customer_id``: the account's id.
    ``product_id``: the product delivered. ``serial_number``: its serial number (text).
    ``delivered_on``: the delivery date as ``YYYY-MM-DD``. ``order_reference``: the sales
    order's number (e.g. ``SO-000042``).

    Returns: the id of the equipment record. All implementations run; nobody
    implementing the hook means nothing happens.
    """
