"""CPU time of one records list beside the floor's work, in this process, for comparing revisions.

    python bench/list_cpu.py --database URL [--code DIR] [--calls 1000] [--batches 3] [--idle-ms 2]

Wall-clock times on a shared machine vary with its neighbours; the CPU time a thread
spends (``time.thread_time``) varies less. Run after bench/api_bench.py has set up the
bench user. Each batch times --calls calls of the floor's work (the list's SQL on a DB-API
connection, the rows as JSON, as bench/floor_app.py serves it) and then --calls calls of
``records.list`` + JSON as the API serves it (bench.user01, ``stage=won&sort=-close_date
&limit=50``), after 50 calls of each to warm up, and prints the CPU milliseconds per call
and their ratio. ``--code DIR`` imports core from another checkout (an older revision, say),
with this script's helpers, so that two revisions are measured the same way.

``--idle-ms MS`` sleeps MS milliseconds before each call, as a server idles between
requests while the response travels and the next request arrives; the calls are then
slower, and CPU time counts only the calls themselves.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--code", type=Path, default=BENCH_DIR.parent, help="the checkout whose core is measured")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--idle-ms", type=float, default=0.0, help="sleep before each call (default: back to back)")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(BENCH_DIR), str(args.code.resolve())]

    import msgspec  # noqa: PLC0415 - after the checkout is on the path
    from core.records import Actor  # noqa: PLC0415 - core first: api_bench puts this checkout on the path
    from core.runtime import Runtime  # noqa: PLC0415
    from core.settings import Settings  # noqa: PLC0415

    import api_bench  # noqa: PLC0415
    import floor_app  # noqa: PLC0415

    runtime = Runtime(Settings(database_url=args.database, plugins=()))
    user = api_bench.ensure_bench_user(runtime, 5)
    actor = Actor(user.user_id, user.username, api_bench.PERMISSION_SET)
    dialect, raw = floor_app.connect(args.database)
    floor_page = api_bench.floor_work(raw, dialect, user.user_id)

    def service_page() -> bytes:
        return msgspec.json.encode(runtime.records.list(actor, "deal", api_bench.LIST_PARAMS).as_dict())

    idle = args.idle_ms / 1000

    def cpu_ms(call) -> float:
        for _ in range(50):
            call()
        spent = 0.0
        for _ in range(args.calls):
            if idle:
                time.sleep(idle)
            start = time.thread_time()
            call()
            spent += time.thread_time() - start
        return spent / args.calls * 1000

    import core  # noqa: PLC0415

    print(f"core from {Path(core.__file__).parent} ({api_bench.git('-C', str(args.code), 'rev-parse', '--short', 'HEAD').strip() or '?'}); "
          f"{args.database}; {f'{args.idle_ms:g} ms idle before each call' if idle else 'calls back to back'}")
    for batch in range(1, args.batches + 1):
        floor, service = cpu_ms(floor_page), cpu_ms(service_page)
        print(f"batch {batch}: floor {floor:.3f} ms, records.list {service:.3f} ms CPU per call ({service / floor:.2f}x)")
    raw.close()
    runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
