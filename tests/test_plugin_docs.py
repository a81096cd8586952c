"""The plugin guide stays true: every hook documented, no hook invented, examples valid and quoted exactly."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from core import hookspecs
from core.fieldtypes import FieldTypeRegistry
from core.metadata.files import base_documents, documents_from, read_json
from core.metadata.model import build

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
EXAMPLES = ROOT / "examples"
REFERENCE = "## Hook reference"


def core_hooks() -> list[str]:
    """The hooks of core/hookspecs.py, in the order they are declared."""
    return [name for name, value in vars(hookspecs).items() if name.startswith("tessera_") and callable(value)]


def hook_groups() -> list[tuple[str, list[str]]]:
    """(title, hooks) for each '# --- Title ---' comment of core/hookspecs.py."""
    source = Path(hookspecs.__file__).read_text(encoding="utf-8")
    titles = {number: m.group(1).strip() for number, line in enumerate(source.splitlines(), 1)
              if (m := re.match(r"^# --- (.+?) -+\s*$", line))}
    groups: list[tuple[str, list[str]]] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("tessera_"):
            title = next((titles[n] for n in sorted(titles, reverse=True) if n < node.lineno), "")
            if not groups or groups[-1][0] != title:
                groups.append((title, []))
            groups[-1][1].append(node.name)
    return groups


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def reference() -> str:
    text = guide()
    assert REFERENCE in text, f"docs/plugins.md has no '{REFERENCE}' section"
    return text[text.index(REFERENCE):]


def documented_hooks() -> list[str]:
    return re.findall(r"^### `([^`]+)`\s*$", reference(), flags=re.MULTILINE)


def example_package_names() -> set[str]:
    return {p.name for p in EXAMPLES.glob("*/tessera_*") if p.is_dir()}


def test_every_hook_has_a_section():
    missing = [name for name in core_hooks() if name not in documented_hooks()]
    assert missing == [], f"docs/plugins.md has no '### `name`' section for: {', '.join(missing)}"


def test_the_guide_documents_no_hook_that_does_not_exist():
    hooks = set(core_hooks())
    invented = [name for name in documented_hooks() if name not in hooks]
    assert invented == [], f"docs/plugins.md documents hooks core/hookspecs.py does not declare: {', '.join(invented)}"
    text = re.sub(r"unknown hook '[^']*'", "", guide())  # quotes of the message for a misspelt hook
    mentioned = set(re.findall(r"\btessera_[a-z0-9_]+", text)) - example_package_names()
    assert sorted(mentioned - hooks) == [], "docs/plugins.md names hooks that do not exist"


def test_hooks_are_documented_in_the_order_and_groups_of_hookspecs():
    assert documented_hooks() == core_hooks()
    text = reference()
    groups = hook_groups()
    for index, (title, names) in enumerate(groups):
        marker = f"**{title}**"
        assert marker in text, f"the hook reference has no group heading {marker}"
        start = text.index(marker)
        end = text.index(f"**{groups[index + 1][0]}**") if index + 1 < len(groups) else len(text)
        for name in names:
            assert start < text.index(f"### `{name}`") < end, f"{name} is not under {marker}"


def example_json_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*.json") if not any(part in ("build", "__pycache__") or part.endswith(".egg-info") for part in p.parts))


def test_every_example_json_file_validates():
    files = example_json_files()
    assert files, "no example JSON files under examples/"
    names = FieldTypeRegistry().names()
    docs = []
    for path in files:
        source = str(path.relative_to(ROOT))
        found = documents_from(read_json(path, source), source, "plugin:example", names)
        assert found, source
        docs += found
    build(base_documents(names) + docs, FieldTypeRegistry())  # references (lookup targets, layout fields) resolve too


QUOTE = re.compile(r"<!-- (file|excerpt): (\S+) -->\n```[a-z]*\n(.*?)\n```", re.DOTALL)


def test_quoted_example_files_match_the_files():
    quotes = QUOTE.findall(guide())
    assert quotes, "docs/plugins.md quotes no example file"
    for kind, relative, block in quotes:
        path = ROOT / relative
        assert path.is_file(), f"docs/plugins.md quotes {relative}, which does not exist"
        content = path.read_text(encoding="utf-8").rstrip("\n")
        if kind == "file":
            assert block == content, f"docs/plugins.md quotes {relative}, but the file differs"
        else:
            assert block in content, f"docs/plugins.md quotes an excerpt of {relative} that is not in the file"


@pytest.mark.parametrize("path", ["examples/tessera-fleet/tessera_fleet/__init__.py", "examples/tessera-fleet/tessera_fleet/hookspecs.py"])
def test_the_quoted_plugin_code_covers_the_whole_module(path):
    """Every line of the plugin's code appears in the guide, so the worked example is complete."""
    quoted = "\n".join(block for _kind, relative, block in QUOTE.findall(guide()) if relative == path)
    missing = [line for line in (ROOT / path).read_text(encoding="utf-8").splitlines() if line.strip() and line not in quoted]
    assert missing == [], f"lines of {path} not shown in docs/plugins.md: {missing[:5]}"
