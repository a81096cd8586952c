"""The docs stay true: every command and field type documented, every example valid."""

from __future__ import annotations

from pathlib import Path

import click

from core.cli import cli
from core.fieldtypes import FieldTypeRegistry
from core.metadata.files import documents_from, read_json

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _commands(group: click.Group, prefix: str) -> dict[str, click.Command]:
    found = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix} {name}"))
        else:
            found[f"{prefix} {name}"] = command
    return found


def test_cli_reference_lists_every_command():
    text = (DOCS / "cli.md").read_text()
    missing = [c for c in _commands(cli, "tessera") if f"`{c}" not in text]
    assert missing == []


def test_cli_reference_names_every_option_in_its_commands_row():
    rows = (DOCS / "cli.md").read_text().splitlines()
    missing = []
    for name, command in _commands(cli, "tessera").items():
        row = next((line for line in rows if line.startswith(f"| `{name}")), "")
        missing += [f"{name} {opt}" for param in command.params if isinstance(param, click.Option)
                    for opt in param.opts if opt.startswith("--") and opt not in row]
    assert missing == []


def test_implementer_guide_lists_every_field_type():
    text = (DOCS / "implementer-guide.md").read_text()
    missing = [t for t in FieldTypeRegistry().names() if f"| `{t}` |" not in text]
    assert missing == []


def test_documented_operators_match_the_field_types():
    text = (DOCS / "implementer-guide.md").read_text()
    for ftype in FieldTypeRegistry().names():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{ftype}` |"))
        documented = {op.strip().split(" ")[0] for op in row.rsplit("|", 2)[1].split(",")} - {""}
        assert documented == set(FieldTypeRegistry()[ftype].operators), ftype


def test_example_files_validate():
    examples = sorted((DOCS / "examples").glob("*.json"))
    assert examples
    for path in examples:
        assert documents_from(read_json(path), str(path), "customization", FieldTypeRegistry().names())


def test_readme_quick_start_is_two_commands_that_exist():
    root = DOCS.parent
    readme = (root / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in quick_start.splitlines() if line.startswith("bash ")]
    assert commands == ["bash scripts/run.sh", "bash scripts/test.sh"]
    for command in commands:
        assert (root / command.split()[1]).is_file()
    assert "bash scripts/test.sh" in (root / ".ci" / "run").read_text()


def test_user_guide_lists_every_setup_page():
    import re

    from litestar.handlers import HTTPRouteHandler

    from ui.setup import SetupPages

    text = (DOCS / "user-guide.md").read_text()
    pages = [f"/setup{path}".rstrip("/") for handler in vars(SetupPages).values() if isinstance(handler, HTTPRouteHandler)
             and "GET" in handler.http_methods for path in handler.paths if "export" not in path]
    undocumented = [page for page in pages if page != "/setup"
                    and not re.search("`" + re.sub(r"\\\{[a-z_]+:str\\\}", "<[a-z]+>", re.escape(page)) + "`", text)]
    assert pages and undocumented == []


def test_the_ui_guide_shows_screenshots_the_script_makes_of_every_page_in_both_languages_and_widths():
    import re  # noqa: PLC0415

    text = (DOCS / "ui.md").read_text()
    shown = re.findall(r"!\[\]\((screenshots/[^)]+)\)", text)
    assert len(shown) == 20 and all((DOCS / path).is_file() for path in shown)
    script = (DOCS.parent / "scripts" / "screenshots.py").read_text()
    assert '"en": "demo.rep1", "zh-CN": "demo.manager"' in script and '"desktop"' in script and '"phone"' in script
    names = {re.match(r"screenshots/(\w+)-", path).group(1) for path in shown}
    assert names == set(re.findall(r'"(\w+)": (?:"/|f"/)', script.split("def pages")[1].split("def free_port")[0]))
