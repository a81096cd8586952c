"""Reading metadata documents from JSON files: the base layer and changesets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable

from core import jsontext
from core.metadata.model import NAMED_KINDS, Doc
from core.metadata.problems import MetadataError, Problem, pointer
from core.metadata.schemas import check_document

BASE_DIR = Path(__file__).resolve().parents[2] / "metadata"
CHANGESET_FORMAT = "tessera-changeset/1"
CHANGESET_SECTIONS = {"objects": "object", "extensions": "extension", "layouts": "layout", "permission_sets": "permission_set",
                      **{named.section: kind for kind, named in NAMED_KINDS.items()}}


def read_json(path: Path | str, source: str | None = None):
    """Parse a JSON file, or raise MetadataError saying where it is malformed."""
    path = Path(path)
    source = source or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MetadataError([Problem(source, "", "file not found")]) from None
    except UnicodeDecodeError:
        raise MetadataError([Problem(source, "", "is not UTF-8 text; save it as UTF-8")]) from None
    except IsADirectoryError:
        raise MetadataError([Problem(source, "", "is a folder, not a JSON file")]) from None
    except OSError as exc:
        raise MetadataError([Problem(source, "", f"cannot be read ({exc.strerror or exc})")]) from None
    return parse_json(text, source)


def parse_json(text: str, source: str):
    """Parse JSON text, or raise MetadataError saying where it is malformed or that it nests too deeply."""
    try:
        return jsontext.loads(text)
    except json.JSONDecodeError as exc:
        raise MetadataError(
            [Problem(source, "", f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")]
        ) from None
    except jsontext.RefusedJSON as exc:
        raise MetadataError([Problem(source, "", str(exc))]) from None


def kind_of(document) -> str:
    """Guess what a standalone document is, for `tessera metadata validate`."""
    if isinstance(document, list):
        return "layouts"
    if not isinstance(document, dict):
        return "unknown"
    schema = str(document.get("$schema", ""))
    for kind in ("changeset", "object", "extension", "layout", "permission_set", *NAMED_KINDS):
        if schema.endswith(f"{kind}.schema.json"):
            return kind
    if "format" in document:
        return "changeset"
    if "subject" in document and "body" in document:
        return "email_template"
    if "trigger" in document and "actions" in document:
        return "automation"
    if "steps" in document and "object" in document:
        return "approval_process"
    if "tiles" in document:
        return "dashboard"
    if "object" in document and (document.get("kind") in ("tabular", "summary", "matrix")
                                 or ("kind" not in document and ("measures" in document or "group_by" in document))):
        return "report"
    if "kind" in document:
        return "layout"
    if "object" in document:
        return "extension"
    if "fields" in document and isinstance(document.get("fields"), list):
        return "object"
    if "name" in document and ("objects" in document or "admin" in document):
        return "permission_set"
    return "unknown"


def documents_from(data, source: str, layer: str, field_types: Iterable[str]) -> list[Doc]:
    """Turn one parsed file (object, layout list, permission set or changeset) into checked Docs."""
    field_types = list(field_types)
    kind = kind_of(data)
    if kind == "unknown":
        raise MetadataError(
            [Problem(source, "", "is not a Tessera metadata document: expected an object (with 'fields'), an extension, a layout, a permission set, an e-mail template (with 'subject' and 'body'), a workflow rule (with 'trigger' and 'actions'), an approval process (with 'steps'), a report (with 'measures' or 'group_by'), a dashboard (with 'tiles') or a changeset (with 'format')")]
        )
    if kind == "changeset":
        return changeset_documents(data, source, layer, field_types)
    if kind == "layouts":  # a list of layouts, permission sets, objects, extensions or e-mail templates
        problems, docs = [], []
        for i, item in enumerate(data):
            item_kind = kind_of(item)
            if item_kind in ("unknown", "layouts", "changeset"):
                problems.append(Problem(source, pointer(i), "is not a layout, permission set, object, extension, e-mail template, workflow rule, approval process, report or dashboard"))
                continue
            found = check_document(item_kind, item, source, field_types, at=pointer(i))
            problems += found
            if not found:
                docs.append(Doc(item_kind, item, source, layer, pointer(i)))
        if problems:
            raise MetadataError(problems)
        return docs
    problems = check_document(kind, data, source, field_types)
    if problems:
        raise MetadataError(problems)
    return [Doc(kind, data, source, layer)]


def changeset_documents(data, source: str, layer: str, field_types: Iterable[str]) -> list[Doc]:
    problems = check_document("changeset", data, source, list(field_types))
    if problems:
        raise MetadataError(problems)
    docs = []
    for section, kind in CHANGESET_SECTIONS.items():
        for i, body in enumerate(data.get(section, [])):
            docs.append(Doc(kind, body, source, layer, pointer(section, i)))
    return docs


def base_documents(field_types: Iterable[str]) -> list[Doc]:
    """The base layer shipped in metadata/: objects, layouts, permission sets, e-mail templates."""
    docs: list[Doc] = []
    problems: list[Problem] = []
    for folder in ("objects", "layouts", "permission_sets", *(named.section for named in NAMED_KINDS.values())):
        for path in sorted((BASE_DIR / folder).glob("*.json")):
            try:
                docs += documents_from(read_json(path, _relative(path)), _relative(path), "base", field_types)
            except MetadataError as exc:
                problems += exc.problems
    if problems:
        raise MetadataError(problems)
    return docs


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(BASE_DIR.parent))
    except ValueError:
        return str(path)




TEXT_KEYS = ("label", "plural_label", "description", "help", "tab")
CHINESE = re.compile(r"[\u3400-\u9fff]")


def untranslated(document, where: str = "") -> list[str]:
    """JSON pointers of texts (labels, help, descriptions) not given in both en and zh-CN.

    A zh-CN text without a single Chinese character counts as untranslated too (it is
    usually the English copied over).
    """
    found: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            place = f"{where}/{key}"
            if key in TEXT_KEYS and isinstance(value, dict) and "en" in value:
                if not value.get("zh-CN") or not CHINESE.search(value["zh-CN"]):
                    found.append(place)
            else:
                found += untranslated(value, place)
    elif isinstance(document, list):
        for index, item in enumerate(document):
            found += untranslated(item, f"{where}/{index}")
    return found
