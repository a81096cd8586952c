"""The plugin guide's tables of the base objects list exactly the fields of metadata/objects/*.json, with their types."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
OBJECTS = ROOT / "metadata" / "objects"
SECTION = "## The base objects"


def base_objects() -> dict[str, list[tuple[str, str]]]:
    """Object name -> [(field, type)] as metadata/objects/*.json define them, in their order."""
    found = {}
    for path in sorted(OBJECTS.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        found[body["name"]] = [(f["name"], f["type"]) for f in body["fields"]]
    return found


def documented() -> dict[str, list[tuple[str, str]]]:
    """Object name -> [(field, type)] from the guide's '### name' tables under 'The base objects'."""
    text = GUIDE.read_text(encoding="utf-8")
    assert SECTION in text, f"docs/plugins.md has no '{SECTION}' section"
    section = text[text.index(SECTION) + len(SECTION):]
    section = section[:section.index("\n## ")]
    tables = {}
    for part in re.split(r"^### ", section, flags=re.MULTILINE)[1:]:
        name, _, body = part.partition("\n")
        tables[name.strip()] = re.findall(r"^\| `([a-z0-9_]+)` \| `([a-z_]+)` \|", body, flags=re.MULTILINE)
    return tables


def test_every_base_object_has_a_table():
    assert sorted(documented()) == sorted(base_objects())


def test_every_base_field_is_in_its_table_with_its_type():
    tables = documented()
    for name, fields in base_objects().items():
        missing = [f for f in fields if f not in tables.get(name, [])]
        assert missing == [], f"docs/plugins.md does not list these fields of {name} (or gives another type): {missing}"


def test_no_table_lists_a_field_the_metadata_does_not_define():
    defined = base_objects()
    for name, fields in documented().items():
        invented = [f for f in fields if f not in defined.get(name, [])]
        assert invented == [], f"docs/plugins.md lists fields of {name} that metadata/objects/{name}.json does not define: {invented}"
        assert len(fields) == len(set(fields)), f"docs/plugins.md lists a field of {name} twice"
