"""Another plugin that hears when Fleet retires a vehicle, without importing Fleet.

``optionalhook=True`` lets it load whether or not Fleet is installed.
"""

from core.hookspecs import hookimpl
from core.plugins import PluginInfo

PLUGIN = PluginInfo(name="fleet_listener", version="0.1.0", label={"en": "Fleet listener", "zh-CN": "车队监听"})
HEARD: list[str] = []
FAIL_ON: set[str] = set()  # plates whose retirement this listener refuses, to show the rollback


@hookimpl(optionalhook=True)
def fleet_vehicle_retired(vehicle, records):
    if vehicle["plate_number"] in FAIL_ON:
        raise RuntimeError(f"cannot close the open work of {vehicle['plate_number']}")
    HEARD.append(vehicle["plate_number"])
