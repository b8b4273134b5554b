"""The writing process of the freshness measurement (started by ``bench.search_bench``).

    python -m bench.freshness_writer        # KB_DATA_DIR names the benchmark's data folder

Creates the app once (warm), then for every JSON record read on standard input imports it as
one new entry (the import service, as ``kb import`` does: one transaction, then the app's own
index catch-up after the commit) and answers one JSON line with the ``CLOCK_MONOTONIC`` times
(system-wide on Linux, so comparable with the reading process) just before the write began and
when the commit, index catch-up included, returned. ``{"ready": true}`` is the first line.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _now() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def main() -> int:
    """Read records, write each, report the times (one JSON line per record)."""
    from kb import create_app
    from kb.extensions import db
    from kb.imports.services import import_records
    from kb.seed import system_user

    app = create_app({"DATA_DIR": os.environ["KB_DATA_DIR"], "SECRET_KEY": "bench"})
    with app.app_context():
        editor = system_user(db.session)
        db.session.commit()
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            record = json.loads(line)
            started = _now()
            try:
                import_records(db.session, [(1, record)], editor=editor)
                db.session.commit()
            except Exception as exc:  # report and go on: the reader records the failure
                db.session.rollback()
                print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
                continue
            print(json.dumps({"started": started, "committed": _now()}), flush=True)
        db.session.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
