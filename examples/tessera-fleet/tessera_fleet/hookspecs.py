"""Hooks the Fleet plugin offers to other plugins.

Another plugin implements them without importing this package::

    from core.hookspecs import hookimpl

    @hookimpl(optionalhook=True)
    def fleet_vehicle_retired(vehicle, records):
        ...

``optionalhook=True`` lets that plugin load when Fleet is not installed; its
implementation is then simply never called.
"""

from core.hookspecs import hookspec


@hookspec
def fleet_vehicle_retired(vehicle, records):
    """A vehicle's status has just become ``retired``, in the transaction that changed it.

    ``vehicle``: the vehicle as stored after the change. ``records``: record access in the
    same transaction (an exception rolls the status change back too). Returns nothing;
    every implementation runs.
    """
