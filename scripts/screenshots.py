"""Screenshots of the main pages for docs/ui.md, in English and Chinese, at desktop and phone width.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Builds a throwaway SQLite database with the demo data and the four plugins, serves it on a free
local port, and drives Debian's Chromium (through Playwright) as two demo users: Sam Carter, a
rep reading English, and Lin Zhou, a manager reading Chinese. Each page is saved as
``<page>-<language>-<desktop|phone>.png`` (the window, not the whole page).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from core.api.app import create_app  # noqa: E402
from core.auth import Accounts  # noqa: E402
from core.demo import load_demo  # noqa: E402
from core.records import Actor  # noqa: E402
from core.runtime import Runtime  # noqa: E402
from core.settings import Settings  # noqa: E402

PASSWORD = "screenshots only"
USERS = {"en": "demo.rep1", "zh-CN": "demo.manager"}
SIZES = {"desktop": {"width": 1360, "height": 860}, "phone": {"width": 390, "height": 844}}
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-dev-shm-usage"]


def pages(runtime: Runtime) -> dict[str, str]:
    """The pages to draw, by name: the home page, a list, a record, the board and search."""
    system = Actor.system()
    account = runtime.records.list(system, "account", {"sort": "id", "limit": "1"}).items[0]
    return {"home": "/", "accounts": "/r/account", "account": f"/r/account/{account['id']}",
            "board": "/r/opportunity/kanban", "search": "/search?q=" + account["name"].split(" ")[0]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(runtime: Runtime) -> tuple[uvicorn.Server, str]:
    config = uvicorn.Config(create_app(runtime, run_jobs=True), host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise SystemExit("the server did not start")
    return server, f"http://127.0.0.1:{config.port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        runtime = Runtime(Settings.from_env({}, database_url=f"sqlite:///{folder}/screenshots.db", password_hashing="fast"))
        runtime.upgrade()
        load_demo(runtime)
        accounts = Accounts(runtime)
        for username in USERS.values():
            user = runtime.records.list(Actor.system(), "user", {"username": username}).items[0]
            accounts.set_password(user["id"], PASSWORD, username)
        server, base = serve(runtime)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
                for lang, username in USERS.items():
                    for size_name, size in SIZES.items():
                        context = browser.new_context(base_url=base, viewport=size, locale=lang, device_scale_factor=1)
                        tab = context.new_page()
                        tab.goto("/login")
                        tab.locator("#username").fill(username)
                        tab.locator("#password").fill(PASSWORD)
                        tab.locator("form button[type=submit]").click()
                        tab.wait_for_url("**/")
                        for name, path in pages(runtime).items():
                            tab.goto(path)
                            tab.wait_for_load_state("networkidle")
                            target = args.out / f"{name}-{lang}-{size_name}.png"
                            tab.screenshot(path=target)
                            print(target.relative_to(ROOT))
                        context.close()
                browser.close()
        finally:
            server.should_exit = True
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
