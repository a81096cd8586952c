"""Fields in the browser: how a value is shown, which input edits it, and what a form sends back.

Values are shown as the record service returns them (JSON); a form's strings are turned
back into what the record service accepts, and it alone decides what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
import colorsys
import datetime as dt
import re
from functools import lru_cache
from typing import Any, Callable
from zoneinfo import ZoneInfo, available_timezones

from babel.numbers import get_currency_symbol
from markupsafe import Markup, escape

from core.metadata.model import FieldDef, ObjectDef
from core.naming import record_name
from ui.i18n import label

BABEL_LOCALES = {"en": "en_US", "zh-CN": "zh_Hans_CN"}
SYSTEM_COLUMNS = {"owner", "created_at", "updated_at"}  # the system fields a layout may show


@dataclass
class Column:
    """A field as a page shows it: its definition, label and whether the user may change it."""

    field: FieldDef
    title: str
    editable: bool
    widget: str
    narrowed_by: tuple[str, ...] = ()  # a lookup's other fields on the form that narrow what it offers

    @property
    def name(self) -> str:
        return self.field.name


def column(fdef: FieldDef, lang: str, editable: bool) -> Column:
    widget = fdef.type.widget
    if fdef.spec.get("read_only") or fdef.computed:
        widget, editable = "readonly", False
    return Column(fdef, fdef.label(lang), editable, widget)


def choices(fdef: FieldDef, lang: str) -> list[dict]:
    return [{"value": v["value"], "label": label(v.get("label"), lang, v["value"]), "color": v.get("color")}
            for v in fdef.spec.get("values", [])]


def display(fdef: FieldDef, value: Any, lang: str, currency: str | None = None, zone: str | None = None) -> str:
    """A value as text for a table cell or a detail page."""
    return formatter(fdef, lang, currency, zone)(value)


def formatter(fdef: FieldDef, lang: str, currency: str | None = None, zone: str | None = None) -> Callable[[Any], str]:
    """The function that shows the field's values as text: chosen once per column, applied per cell.

    An amount shows the symbol of the field's own currency, else of ``currency`` (the installation's); a date and time
    is shown in ``zone`` (the reader's), else in UTC, saying so."""
    ftype = fdef.type
    family = ftype.family
    if ftype.single_link:
        show = lambda v: str(v.get("label") if v.get("label") is not None else f"#{v['id']}")  # noqa: E731
    elif family == "relation":
        show = lambda v: ", ".join(str(link.get("label") or f"#{link['id']}") for link in v)  # noqa: E731
    elif family == "choice":
        labels = {o["value"]: label(o.get("label"), lang, o["value"]) for o in fdef.spec.get("values", [])}
        one = lambda v: labels.get(v, str(v))  # noqa: E731
        show = (lambda v: ", ".join(one(x) for x in v)) if ftype.multiple else one
    elif family == "boolean":
        show = lambda v: "✓" if v else "✗"  # noqa: E731
    elif family == "number" and "currency" in ftype.options and (fdef.spec.get("currency") or currency):
        show = money(fdef.spec.get("currency") or currency, lang, fdef.spec.get("scale", ftype.scale or 0))
    elif family == "number" and not ftype.whole:
        pattern = f"{{:,.{fdef.spec.get('scale', ftype.scale if ftype.scale is not None else 2)}f}}{ftype.unit}"
        show = pattern.format
    elif family == "number" and ftype.unit:
        show = lambda v: f"{v}{ftype.unit}"  # noqa: E731
    elif family == "date" and ftype.with_time and zone not in (None, "UTC"):
        show = lambda v: in_zone(str(v), zone).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    elif family == "date" and ftype.with_time:
        show = lambda v: str(v).replace("T", " ")[:16] + " UTC"  # noqa: E731
    else:
        show = str
    return lambda value: "" if value is None or value == "" or value == [] else show(value)


def cell(fdef: FieldDef, lang: str, currency: str | None = None, zone: str | None = None) -> Callable[[Any], str]:
    """The function that writes the field's values as a list cell's HTML (a string to put into a row, every value
    escaped): a lookup as a link to its record under its title, a picklist value as a badge in its colour's tone,
    other values as text."""
    ftype, text = fdef.type, formatter(fdef, lang, currency, zone)
    # f-strings with escape() rather than Markup.format: a list page writes hundreds of these, and format's parsing
    # of the template costs more than the cell
    if ftype.single_link and fdef.spec.get("target"):
        target = escape(fdef.spec["target"])
        return lambda v: "" if not v else f'<a href="/r/{target}/{int(v["id"])}">{escape(text(v))}</a>'
    if ftype.single_link:  # linked to a record of the object its value names
        return lambda v: escape(text(v)) if not v or not v.get("object") else \
            f'<a href="/r/{escape(v["object"])}/{int(v["id"])}">{escape(text(v))}</a>'
    if ftype.family == "choice":
        badges = {o["value"]: badge(o.get("color"), label(o.get("label"), lang, o["value"])) for o in fdef.spec.get("values", [])}
        one = lambda v: badges.get(v) or escape(v)  # noqa: E731
        if not ftype.multiple:
            return lambda v: "" if v in (None, "") else one(v)
        return lambda v: Markup(" ").join(one(x) for x in v or [])
    return lambda v: escape(text(v))


@lru_cache(maxsize=1024)
def badge(color: str | None, text: str) -> Markup:
    """A picklist value's badge: the same few per list, drawn once."""
    return Markup('<span class="badge tone-{}">{}</span>').format(tone(color), text)


def tone(color: str | None) -> str:
    """The tone of a picklist value's colour ("#2e7d32": green) that its badge takes from the stylesheet:
    the pages allow no inline style, and a few tones read better in light and dark themes than any hex."""
    if not color or not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
        return "gray"
    hue, lightness, saturation = colorsys.rgb_to_hls(*(int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)))
    if saturation < 0.2 or lightness < 0.12 or lightness > 0.92:
        return "gray"
    degrees = hue * 360
    for limit, name in ((15, "red"), (45, "orange"), (70, "yellow"), (165, "green"), (200, "teal"), (255, "blue"), (300, "purple"), (340, "pink")):
        if degrees < limit:
            return name
    return "red"


@lru_cache(maxsize=64)
def money(code: str, lang: str, scale: int) -> Callable[[Any], str]:
    """Amounts of one currency as the language writes them: "$1,250.00", "-¥300.00", "US$1,250.00" in Chinese.

    The symbol comes from Babel's locale data once; each amount is then plain formatting, as a list draws
    hundreds of them."""
    symbol = get_currency_symbol(code, locale=BABEL_LOCALES.get(lang, "en_US"))
    pattern = f"{{:,.{scale}f}}"
    return lambda v: f"-{symbol}{pattern.format(-v)}" if v < 0 else f"{symbol}{pattern.format(v)}"


def form_value(record: dict | None, name: str) -> Any:
    """What a form input shows for a stored value."""
    if record is None:
        return None
    value = record.get(name)
    if isinstance(value, dict):
        return value.get("id")
    if isinstance(value, list):
        return [v.get("id") if isinstance(v, dict) else v for v in value]
    return value


def from_form(fdef: FieldDef, raw: Any, zone: str | None = None) -> Any:
    """A submitted input as the record service takes it; '' is no value."""
    ftype = fdef.type
    if ftype.family == "boolean":
        return raw in ("on", "true", "1", ["on"])
    if ftype.multiple:
        items = raw if isinstance(raw, list) else ([raw] if raw not in (None, "") else [])
        if ftype.family == "relation":  # typed as ids separated by commas
            items = [part.strip() for item in items for part in str(item).split(",")]
        return [item for item in items if item != ""]
    if isinstance(raw, list):
        raw = raw[-1]
    if raw is None:
        return None
    text = str(raw).replace("\r\n", "\n")  # a browser sends line breaks as CRLF
    if not ftype.blank_is_value and text.strip() == "":
        return None
    if ftype.family == "number" or ftype.single_link:
        return text.strip()
    if ftype.family == "date" and ftype.with_time:
        return utc_text(text, zone)
    return text


def utc_text(local: str, zone: str | None = None) -> str:
    """An <input type=datetime-local>'s value (no zone; seconds only when they are not zero), a time in ``zone`` (the
    reader's; UTC when None), as UTC."""
    text = local + ":00" if len(local) == 16 else local
    zoned = text.endswith(("Z", "z")) or "+" in text[10:] or "-" in text[10:]
    if zoned:
        return text
    if zone in (None, "UTC"):
        return text + "Z"
    try:
        moment = dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        return text + "Z"  # not a date and time: the record service says so, naming the field
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds" if moment.microsecond else "seconds").replace("+00:00", "Z")


def local_text(value: str | None, zone: str | None = None) -> str:
    """A datetime as an <input type=datetime-local> shows it: in ``zone`` (UTC when None) without the zone, with its
    seconds (to the millisecond, what the input holds) unless they are zero, so that a form sent back unchanged sends
    the same time."""
    if value and zone not in (None, "UTC"):
        moment = in_zone(value, zone)
        value = moment.replace(tzinfo=None).isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    text, _, fraction = (value or "").removesuffix("Z").partition(".")
    fraction = fraction[:3].rstrip("0")
    if fraction:
        return f"{text}.{fraction}"
    return text[:16] if text[16:] == ":00" else text


def in_zone(value: str, zone: str) -> dt.datetime:
    """A stored UTC time (ISO text) in the time zone ``zone``."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(ZoneInfo(zone))


def time_zone(name: str | None) -> str | None:
    """``name`` if it is a time zone this machine knows (an IANA name like Asia/Shanghai), else None."""
    if not name or len(name) > 64 or name not in available_zones():
        return None
    return name


@lru_cache(maxsize=1)
def available_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def record_title(obj: ObjectDef, record: dict, lang: str) -> str:
    """What names a record on a page: its title field, else the object's name and its id."""
    value = record_name(obj, record)
    if value not in (None, ""):
        return str(value)
    return f"{label(obj.spec.get('label'), lang, obj.name)} #{record['id']}"


def system_field(registry, object_name: str, name: str) -> FieldDef | None:
    """One of the system fields a layout may name, as a field definition."""
    from core.runtime import SYSTEM_FIELD_SPECS  # noqa: PLC0415 - the runtime is heavy to import for this module's other users

    if name not in SYSTEM_COLUMNS:
        return None
    spec = SYSTEM_FIELD_SPECS[name]
    return FieldDef(name, registry[spec["type"]], spec, object_name, False, "system")
