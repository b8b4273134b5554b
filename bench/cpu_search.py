"""CPU time per search of the benchmark's nine queries, in one process, on an existing data folder.

Wall-clock latencies move with whatever else the machine is doing; the CPU time this process
spends (``time.process_time``) hardly does, and the fastest of several rounds even less. The
queries are ``search_bench.fixed_queries``, run through ``kb.search.search`` with facets and
highlights and the result cache off, as the API runs them (without HTTP)::

    .venv/bin/python -m bench.cpu_search /path/to/data-folder [--rounds 9] [--seed 42]

The folder is one made by ``kb init`` and ``kb import`` (``search_bench --keep`` leaves them).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from bench.search_bench import fixed_queries
from kb import create_app
from kb import search
from kb.extensions import db


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    app = create_app(
        {"DATA_DIR": args.data_dir, "SECRET_KEY": "bench", "TESTING": True, "SEARCH_CACHE_SIZE": 0}
    )
    print(f"{'query':20s} {'hits':>7s} {'min ms':>8s} {'median ms':>10s}  (CPU of this process)")
    with app.app_context():
        for query in fixed_queries(args.seed):
            params = dict(query.params)
            text = params.pop("q", "")
            options = {
                "q": text,
                "filters": {name: [value] for name, value in params.items()},
                "facets": True,
                "highlights": True,
            }
            found = search.search(db.session, **options)  # warm-up: reads the postings
            times = []
            for _ in range(args.rounds):
                start = time.process_time()
                search.search(db.session, **options)
                times.append((time.process_time() - start) * 1000)
            times.sort()
            median = times[len(times) // 2]
            print(f"{query.name:20s} {found.total:7d} {times[0]:8.1f} {median:10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
