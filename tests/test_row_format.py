"""The row formatter made once per reader gives each row's record: formatted values, lookups, the optional last key."""

import pytest

from core.row_format import row_formatter


def _formatter():
    keys = ["id", "name", "account", "amount", "deleted_at"]
    formatters = {"amount": (lambda value, spec: round(float(value), spec["scale"]), {"scale": 1})}
    lookups = {"account": 5}
    return row_formatter(keys, formatters, lookups, label=lambda value: f"#{value}", optional_last="deleted_at")


def test_values_are_copied_formatted_and_looked_up_in_key_order():
    record = _formatter()((7, "Big deal", 3, "12.34", None, "Acme"))
    assert record == {"id": 7, "name": "Big deal", "account": {"id": 3, "label": "Acme"}, "amount": 12.3}
    assert list(record) == ["id", "name", "account", "amount"]


def test_none_stays_none_and_a_label_that_is_not_text_goes_through_the_label_function():
    fmt = _formatter()
    assert fmt((8, None, None, None, None, None)) == {"id": 8, "name": None, "account": None, "amount": None}
    assert fmt((9, "x", 4, "1", None, 1234))["account"] == {"id": 4, "label": "#1234"}


def test_the_optional_last_key_is_there_only_with_a_value():
    record = _formatter()((7, "Big deal", None, None, "2026-01-01T00:00:00Z", None))
    assert list(record)[-1] == "deleted_at" and record["deleted_at"] == "2026-01-01T00:00:00Z"


def test_the_optional_key_must_come_last():
    with pytest.raises(ValueError, match="must be the last key"):
        row_formatter(["id", "deleted_at", "name"], {}, {}, label=str, optional_last="deleted_at")
