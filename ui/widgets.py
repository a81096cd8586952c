"""Plugins' dashboard widgets as a page draws them, on the home page and as dashboard tiles."""

from __future__ import annotations

from ui.context import Page
from ui.fields import money


def widget_content(page: Page, content: dict) -> dict:
    """A widget's content as the page draws it: a "progress" item's value and target written as the page writes
    numbers (money with the currency symbol), and the share of its target reached."""
    if content.get("kind") != "progress":
        return content
    items = []
    for item in content.get("items") or []:
        value, target = _figure(item.get("value")), _figure(item.get("target"))
        write = money(page.currency, page.lang, 2) if item.get("currency") else _number
        percent = round(value * 100 / target) if target else 0
        items.append({**item, "value": value, "target": target, "shown_value": write(value), "shown_target": write(target),
                      "percent": percent, "max": target if target > 0 else 1, "bar": min(max(value, 0), target) if target > 0 else 0})
    return {**content, "items": items}


def _figure(value) -> int | float:
    """A progress item's value or target: a number, else (None, text) 0."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
