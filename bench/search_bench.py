"""Import throughput, index size and search latency at several corpus sizes.

    python -m bench.search_bench [--sizes 20000] [--quick] [--out bench/out/results.json]

For each size: a fresh data folder, ``kb init``, ``kb import`` of a synthetic corpus
(``bench.corpus``; the seed content, ``kb seed --demo``, is measured as its own size), then
search latency measured **in-process with Flask's test client** (no HTTP server, no network,
no waitress threads): the JSON API, the htmx results fragment, and the as-you-type fragment
(``facets=false``). Then the same data folder under load: gunicorn (2 workers) driven by wrk
(``bench.load``). See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import fts5_baseline
from bench import load
from bench.corpus import build_vocabulary
from bench.corpus import generate
from bench.corpus import write_corpus

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
#: The one-word rare query is the content word of this Zipf rank (~0.2 % of entries).
RARE_RANK = 1000
QUICK_SIZE = 2000
#: A word no entry contains: the query that finds no entry with all its words.
MISSING_WORD = "zzyzxqv"
_COUNT = re.compile(r'class="count">\s*([\d,]+) result')


class BenchError(RuntimeError):
    """A step of the benchmark failed (the message says which and why)."""


@dataclass(frozen=True)
class Query:
    """One query of the fixed set: a short name, what it stands for, its URL parameters."""

    name: str
    about: str
    params: dict[str, str]


@dataclass(frozen=True)
class Series:
    """One kind of request, timed for every query."""

    name: str
    about: str
    path: str
    extra: dict[str, str]
    headers: dict[str, str]
    #: Timed with the search result cache on (every other series has it off: the fixed
    #: queries repeat, so with it on they would time the cache, not the search).
    cached: bool = False


SERIES = (
    Series("api", "GET /api/v1/search (JSON API)", "/api/v1/search", {}, {}),
    Series(
        "fragment",
        "GET /search with HX-Request: true (results fragment, facets counted)",
        "/search",
        {},
        {"HX-Request": "true"},
    ),
    Series(
        "as-you-type",
        "GET /search with HX-Request: true and facets=false",
        "/search",
        {"facets": "false"},
        {"HX-Request": "true"},
    ),
    Series(
        "api-cached",
        "GET /api/v1/search with the result cache on (a query asked before in the same index "
        "state)",
        "/api/v1/search",
        {},
        {},
        cached=True,
    ),
)


@dataclass(frozen=True)
class Settings:
    """What to run and how long it may take."""

    sizes: tuple[int, ...]
    seed: int
    repeats: int
    warmup: int
    series_seconds: float
    deadline: float
    keep: bool
    workdir: Path | None
    out: Path
    freshness_trials: int = 10
    load_seconds: float = load.DEFAULT_SECONDS
    load_seed_size: bool = True

    def remaining(self) -> float:
        """Seconds left of the whole run's budget."""
        return self.deadline - time.monotonic()


def fixed_queries(seed: int) -> list[Query]:
    """The deterministic query set (the rare word comes from the corpus vocabulary)."""
    rare = build_vocabulary(seed).content.words[RARE_RANK - 1]
    return [
        Query("common-1", "one common word (in nearly every entry)", {"q": "data"}),
        Query("rare-1", f"one rare word (Zipf rank {RARE_RANK})", {"q": rare}),
        Query("two-words", "two words", {"q": "security review"}),
        Query("three-words", "three words", {"q": "sftp transfer schedule"}),
        Query("phrase", "a quoted phrase", {"q": '"minimum necessary"'}),
        Query(
            "facet-category",
            "a word and category=security-reviews",
            {"q": "encryption", "category": "security-reviews"},
        ),
        Query("facet-kind-play", "no words; kind=snippet&play=6", {"kind": "snippet", "play": "6"}),
        Query(
            "facet-kind-play-q",
            "a word and kind=snippet&play=6",
            {"q": "transfer", "kind": "snippet", "play": "6"},
        ),
        Query(
            "no-all-match",
            "two words no entry has together (falls back to any word)",
            {"q": f"sftp {MISSING_WORD}"},
        ),
    ]


def api_paths(seed: int) -> list[str]:
    """The JSON API URL (path and query string) of every fixed query: what the load test sends."""
    return [_url(SERIES[0], query) for query in fixed_queries(seed)]


# --- machine and checkout ----------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def checkout_state() -> dict[str, Any]:
    """The commit and the modified tracked files (read-only git commands)."""
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": _git("rev-parse", "--short", "HEAD"),
        "modified_files": dirty.splitlines() if dirty else [],
    }


def machine_info() -> dict[str, Any]:
    """Where the numbers come from: CPU, memory, load, software versions, checkout."""
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {
            name: _version(name)
            for name in ("flask", "sqlalchemy", "whoosh-reloaded", "werkzeug", "jinja2")
        },
        "checkout": checkout_state(),
    }


# --- preparing a data folder -------------------------------------------------------------------


@contextlib.contextmanager
def bench_environment(data_dir: Path) -> Iterator[dict[str, str]]:
    """``KB_DATA_DIR`` set, every other ``KB_*`` variable removed (never touch a real database)."""
    saved = dict(os.environ)
    for name in [name for name in os.environ if name.startswith("KB_")]:
        del os.environ[name]
    os.environ["KB_DATA_DIR"] = str(data_dir)
    os.environ["KB_SECRET_KEY"] = "bench"
    try:
        yield dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _kb_command() -> list[str]:
    script = Path(sys.executable).with_name("kb")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kb"]


def run_kb(args: Sequence[str], env: dict[str, str], timeout: float) -> tuple[float, str]:
    """Run ``kb ARGS``; returns (wall seconds, standard output)."""
    if timeout <= 0:
        raise BenchError(f"no time left for kb {' '.join(args)}")
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [*_kb_command(), *args],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"kb {' '.join(args)} did not finish within {timeout:.0f} s") from None
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise BenchError(f"kb {' '.join(args)} exited {done.returncode}: {' | '.join(tail)}")
    return seconds, done.stdout


def dir_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    if not path.exists():
        return 0
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def _index_status(env: dict[str, str], settings: Settings) -> dict[str, str]:
    try:
        _, output = run_kb(["index", "status"], env, min(120.0, settings.remaining()))
    except BenchError as exc:
        return {"error": str(exc)}
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


def prepare(label: str, size: int | None, data_dir: Path, settings: Settings) -> dict[str, Any]:
    """``kb init`` then the seed content (``size`` None) or an import of ``size`` entries."""
    result: dict[str, Any] = {"size": label}
    with bench_environment(data_dir) as env:
        result["init_s"] = round(run_kb(["init"], env, settings.remaining())[0], 3)
        if size is None:
            seconds, output = run_kb(["seed", "--demo"], env, settings.remaining())
            result["seed_s"] = round(seconds, 3)
            result["seed_output"] = output.strip().splitlines()
        else:
            corpus = OUT_DIR / f"corpus-{size}-seed{settings.seed}.jsonl"
            started = time.perf_counter()
            write_corpus(corpus, size, settings.seed)
            result["corpus_s"] = round(time.perf_counter() - started, 3)
            result["corpus_file"] = str(corpus.relative_to(PROJECT_ROOT))
            _log(f"[{label}] importing {size} entries (kb import, indexing included) …")
            seconds, output = run_kb(["import", str(corpus)], env, settings.remaining())
            result["import_s"] = round(seconds, 3)
            result["import_entries_per_s"] = round(size / seconds, 1)
            result["import_output"] = output.strip().splitlines()
        result["index_status"] = _index_status(env, settings)
    result["index_bytes"] = dir_bytes(data_dir / "search-index")
    result["database_bytes"] = sum(
        path.stat().st_size for path in data_dir.glob("kb.sqlite*") if path.is_file()
    )
    return result


# --- measuring ----------------------------------------------------------------------------------


def summarise(samples: Sequence[float]) -> dict[str, Any]:
    """Count, p50/p95/p99 (linear interpolation), mean and max, in milliseconds."""
    if not samples:
        return {"n": 0}
    if len(samples) == 1:
        p50 = p95 = p99 = samples[0]
    else:
        cuts = statistics.quantiles(samples, n=100, method="inclusive")
        p50, p95, p99 = cuts[49], cuts[94], cuts[98]
    return {
        "n": len(samples),
        "p50": round(p50, 2),
        "p95": round(p95, 2),
        "p99": round(p99, 2),
        "mean": round(statistics.fmean(samples), 2),
        "max": round(max(samples), 2),
    }


def _url(series: Series, query: Query) -> str:
    return f"{series.path}?{urlencode({**query.params, **series.extra})}"


def _describe_response(series: Series, response: Any) -> dict[str, Any]:
    """Hit count and shape of a first response (for the report, not timed)."""
    body = response.get_data()
    response.close()
    info: dict[str, Any] = {"status": response.status_code, "bytes": len(body)}
    if series.name == "api" and response.is_json:
        data = response.get_json()
        info.update(total=data.get("total"), match=data.get("match"))
        info["facets"] = sorted((data.get("facets") or {}).keys())
    else:
        text = body.decode("utf-8", "replace")
        found = _COUNT.search(text)
        # "N results" in the fragment; None when the wording is not found (0 hits, or changed).
        info["total"] = int(found.group(1).replace(",", "")) if found else None
        info["fragment"] = "<html" not in text[:500].lower()
    return info


def time_series(
    client: Any, series: Series, queries: Sequence[Query], settings: Settings
) -> dict[str, Any]:
    """Warm up, then time every query round-robin until the repeats or the time run out."""
    deadline = min(settings.deadline, time.monotonic() + settings.series_seconds)
    headers = series.headers
    first = {
        q.name: _describe_response(series, client.get(_url(series, q), headers=headers))
        for q in queries
    }
    for _ in range(settings.warmup):
        for query in queries:
            if time.monotonic() < deadline:
                client.get(_url(series, query), headers=headers).close()
    samples: dict[str, list[float]] = {query.name: [] for query in queries}
    failures: dict[str, int] = {}
    rounds = 0
    while rounds < settings.repeats and time.monotonic() < deadline:
        for query in queries:
            url = _url(series, query)
            started = time.perf_counter_ns()
            response = client.get(url, headers=headers)
            response.get_data()
            samples[query.name].append((time.perf_counter_ns() - started) / 1e6)
            # Work the app does after sending (such as writing the search log) runs on close,
            # as under a real server: not part of the latency, but done before the next request.
            response.close()
            if response.status_code != 200:
                failures[query.name] = failures.get(query.name, 0) + 1
        rounds += 1
    every = [value for values in samples.values() for value in values]
    return {
        "status": "ok",
        "about": series.about,
        "rounds": rounds,
        "complete": rounds >= settings.repeats,
        "non_200": failures,
        **summarise(every),
        "queries": {q.name: {**first[q.name], **summarise(samples[q.name])} for q in queries},
    }


def measure_search(data_dir: Path, queries: Sequence[Query], settings: Settings) -> dict[str, Any]:
    """Search latency through Flask's test client, in this process (no HTTP server)."""
    from kb import create_app
    from kb.extensions import db

    result: dict[str, Any] = {"client": "in-process Flask test client (no HTTP, no server)"}
    with bench_environment(data_dir):
        config = {"DATA_DIR": str(data_dir), "SECRET_KEY": "bench"}
        app = create_app({**config, "SEARCH_CACHE_SIZE": 0})
        client = app.test_client()
        cached_app = create_app(config)
        clients = {False: client, True: cached_app.test_client()}
        started = time.perf_counter()
        response = client.get(_url(SERIES[1], queries[0]), headers=SERIES[1].headers)
        result["first_request_ms"] = round((time.perf_counter() - started) * 1000, 2)
        result["first_request_status"] = response.status_code
        response.close()
        result["rss_after_load_mb"] = rss_mb()
        series_results: dict[str, Any] = {}
        for series in SERIES:
            client = clients[series.cached]
            probe = client.get(_url(series, queries[0]), headers=series.headers)
            probe.close()
            if probe.status_code == 404:
                series_results[series.name] = {
                    "status": "skipped",
                    "about": series.about,
                    "reason": f"{series.path} answered 404 (not implemented in this checkout)",
                }
                continue
            _log(f"    timing {series.name} …")
            series_results[series.name] = time_series(client, series, queries, settings)
        result["series"] = series_results
        result["rss_after_series_mb"] = rss_mb()
        result["peak_rss_mb"] = peak_rss_mb()
        client = clients[False]
        if settings.freshness_trials > 0:
            _log(f"    freshness ({settings.freshness_trials} writes in another process) …")
            try:
                result["freshness"] = measure_freshness(client, data_dir, settings)
            except BenchError as exc:
                result["freshness"] = {"error": str(exc)}
        for each in (app, cached_app):
            with each.app_context():
                db.session.remove()
                db.engine.dispose()
    return result


# --- memory, freshness, the FTS5 baseline -------------------------------------------------------


def rss_mb() -> float | None:
    """Resident set size of this process now, in MB (None without psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    return round(psutil.Process().memory_info().rss / 1_000_000, 1)


def peak_rss_mb() -> float | None:
    """The highest resident set size this process has had, in MB (Linux: ru_maxrss in KiB)."""
    try:
        import resource
    except ImportError:
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1_000_000, 1)


def _monotonic() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def freshness_records(count: int, seed: int) -> list[dict[str, Any]]:
    """New published entries, each with a word of its own (``qzfresh`` + letters)."""
    records = []
    for number, record in enumerate(generate(count, seed=seed + 7919)):
        token = "qzfresh" + chr(97 + number // 26 % 26) + chr(97 + number % 26)
        record = {**record, "status": "published", "title": f"Freshness probe {token}"}
        record["body"] = f"{token} {record['body']}"
        records.append({"token": token, "record": record})
    return records


def measure_freshness(client: Any, data_dir: Path, settings: Settings) -> dict[str, Any]:
    """Write one entry in another (warm) process; poll this app's API until it finds it.

    The writer (``bench.freshness_writer``) reports the ``CLOCK_MONOTONIC`` time just before its
    write began; the reader polls ``/api/v1/search?q=<the entry's own word>`` back to back until
    the entry's uid is in the results. Freshness = found − write began; its resolution is one
    search's latency (reported as ``poll_ms``).
    """
    probes = freshness_records(settings.freshness_trials, settings.seed)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_DATA_DIR=str(data_dir), KB_SECRET_KEY="bench")
    writer = subprocess.Popen(
        [sys.executable, "-m", "bench.freshness_writer"],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert writer.stdin is not None and writer.stdout is not None
    trials: list[dict[str, Any]] = []
    try:
        if '"ready"' not in writer.stdout.readline():
            raise BenchError("the freshness writer did not start")
        for probe in probes:
            if settings.remaining() < 15:
                break
            url = f"/api/v1/search?{urlencode({'q': probe['token']})}"
            writer.stdin.write(json.dumps(probe["record"]) + "\n")
            writer.stdin.flush()
            trial: dict[str, Any] = {"token": probe["token"]}
            polls: list[float] = []
            found_at = found_poll_began = 0.0
            give_up = _monotonic() + 15
            while _monotonic() < give_up:
                before = _monotonic()
                response = client.get(url)
                data = response.get_json(silent=True) or {}
                response.close()
                now = _monotonic()
                polls.append(now - before)
                uids = {item.get("uid") for item in data.get("results") or ()}
                if probe["record"]["uid"] in uids:
                    found_at, found_poll_began = now, before
                    break
            report = json.loads(writer.stdout.readline() or "{}")
            if "started" not in report or not found_at:
                trial["error"] = report.get("error") or "not found within 15 s"
            else:
                trial["fresh_ms"] = round((found_at - report["started"]) * 1000, 1)
                # The finding search began here: the entry became searchable in between.
                trial["fresh_lower_ms"] = round((found_poll_began - report["started"]) * 1000, 1)
                trial["writer_ms"] = round((report["committed"] - report["started"]) * 1000, 1)
            trial["polls"] = len(polls)
            trial["poll_ms"] = round(statistics.fmean(polls) * 1000, 1) if polls else None
            trials.append(trial)
    finally:
        writer.stdin.close()
        try:
            writer.wait(timeout=30)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()
    fresh = [t["fresh_ms"] for t in trials if "fresh_ms" in t]
    return {
        "method": "warm second process writes one entry (import service, commit, its index "
        "catch-up); this app's JSON API polled back to back until the entry is found",
        "trials": trials,
        "errors": sum("error" in t for t in trials),
        **summarise(fresh),
        "writer_p50_ms": summarise([t["writer_ms"] for t in trials if "writer_ms" in t]).get("p50"),
    }


def measure_fts5(corpus: Path, data_dir: Path, settings: Settings) -> dict[str, Any]:
    """The FTS5 baseline on the same corpus file and queries (see ``bench.fts5_baseline``)."""
    queries = fixed_queries(settings.seed)
    db_path = data_dir / "fts5-baseline.sqlite"
    started = time.perf_counter()
    connection = fts5_baseline.build(db_path, fts5_baseline.read_jsonl(corpus))
    build_s = time.perf_counter() - started
    try:
        samples, totals = fts5_baseline.time_queries(
            connection,
            [(q.name, q.params) for q in queries],
            repeats=settings.repeats,
            warmup=settings.warmup,
            deadline=min(settings.deadline, time.monotonic() + settings.series_seconds),
        )
    finally:
        connection.close()
    every = [value for values in samples.values() for value in values]
    return {
        "about": "SQLite FTS5 (porter unicode61), bm25 with title weight, snippet() for the "
        "page, facet counts by GROUP BY over the matched rowids; in-process, no HTTP",
        "sqlite": sqlite3.sqlite_version,
        "build_s": round(build_s, 3),
        "bytes": dir_bytes(db_path) if db_path.is_dir() else db_path.stat().st_size,
        **summarise(every),
        "queries": {
            q.name: {"total": totals[q.name], **summarise(samples[q.name])} for q in queries
        },
    }


def add_ratios(size: dict[str, Any]) -> None:
    """Ours ÷ FTS5 for p50/p95/p99, per series and per query (in place; JSON ``ratio_fts5``)."""
    fts5 = size.get("fts5")
    if not fts5 or "p50" not in fts5:
        return
    for data in size.get("series", {}).values():
        if data.get("status") != "ok":
            continue
        data["ratio_fts5"] = {
            key: round(data[key] / fts5[key], 1) for key in ("p50", "p95", "p99") if fts5[key]
        }
        for name, query in data["queries"].items():
            base = fts5["queries"].get(name, {})
            query["ratio_fts5"] = {
                key: round(query[key] / base[key], 1)
                for key in ("p50", "p95", "p99")
                if base.get(key) and key in query
            }


# --- running and reporting ----------------------------------------------------------------------


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_size(label: str, size: int | None, settings: Settings) -> dict[str, Any]:
    """Prepare a fresh data folder for one size and measure it; errors are recorded, not raised."""
    base = str(settings.workdir) if settings.workdir else None
    data_dir = Path(tempfile.mkdtemp(prefix=f"kb-bench-{label}-", dir=base))
    _log(f"[{label}] data folder {data_dir}")
    result: dict[str, Any] = {"size": label, "data_dir": str(data_dir), "kept": settings.keep}
    result["checkout"] = checkout_state()
    if not settings.keep:
        # Removed at exit, after the app's own exit hooks: atexit runs hooks in reverse order of
        # registration and the app registers its hooks later, so a buffer it flushes at exit
        # (such as the search log) still finds its database.
        atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    try:
        result.update(prepare(label, size, data_dir, settings))
        _log(f"[{label}] measuring search …")
        result.update(measure_search(data_dir, fixed_queries(settings.seed), settings))
        if "corpus_file" in result:
            _log(f"[{label}] FTS5 baseline …")
            result["fts5"] = measure_fts5(PROJECT_ROOT / result["corpus_file"], data_dir, settings)
            add_ratios(result)
        if settings.load_seconds > 0 and size is None and not settings.load_seed_size:
            result["load"] = {
                "status": "skipped",
                "reason": "quick mode loads the server on the imported size only",
            }
        elif settings.load_seconds > 0:
            _log(f"[{label}] server under load (gunicorn + wrk, {settings.load_seconds:g} s) …")
            result["load"] = load.measure_load(
                data_dir,
                api_paths(settings.seed),
                load.LoadSettings(settings.load_seconds, deadline=settings.deadline),
            )
    except BenchError as exc:
        result["error"] = str(exc)
        _log(f"[{label}] stopped: {exc}")
    except Exception as exc:  # the app under test may be mid-change: report, go on
        result["error"] = f"unexpected {type(exc).__name__}: {exc}"
        _log(f"[{label}] stopped:\n{traceback.format_exc()}")
    return result


def _megabytes(count: int | None) -> str:
    return f"{count / 1_000_000:.1f} MB" if count is not None else "?"


def _size_heading(size: dict[str, Any]) -> str:
    parts = [f"size {size['size']}"]
    if "import_s" in size:
        parts.append(
            f"import {size['import_entries_per_s']:,} entries/s ({size['import_s']:.1f} s wall)"
        )
    if "seed_s" in size:
        parts.append(f"kb seed --demo {size['seed_s']:.1f} s")
    parts.append(f"index {_megabytes(size.get('index_bytes'))}")
    parts.append(f"database {_megabytes(size.get('database_bytes'))}")
    if "first_request_ms" in size:
        parts.append(f"first request {size['first_request_ms']:.0f} ms")
    return " | ".join(parts)


def format_table(results: dict[str, Any]) -> str:
    """The readable summary: per size, per series p50/p95/p99 beside FTS5, then per query."""
    lines = [
        "Search latency in milliseconds, in-process Flask test client (no HTTP server);",
        "x FTS5 = ours / SQLite FTS5 on the same corpus and queries (p50, p95, p99).",
    ]
    for size in results["sizes"]:
        lines += ["", _size_heading(size)]
        if "error" in size:
            lines.append(f"  error: {size['error']}")
        lines += _memory_lines(size)
        series = size.get("series", {})
        if not series:
            continue
        lines.append(f"  {'series':<13}{'n':>6}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}   x FTS5")
        for name, data in series.items():
            if data["status"] != "ok":
                lines.append(f"  {name:<13}skipped: {data['reason']}")
                continue
            note = "" if data["complete"] else "  (cut short by the time budget)"
            lines.append(
                f"  {name:<13}{data['n']:>6}{data['p50']:>9.1f}{data['p95']:>9.1f}"
                f"{data['p99']:>9.1f}{data['max']:>9.1f}   {_ratios(data)}{note}"
            )
        fts5 = size.get("fts5")
        if fts5 and "p50" in fts5:
            lines.append(
                f"  {'FTS5':<13}{fts5['n']:>6}{fts5['p50']:>9.2f}{fts5['p95']:>9.2f}"
                f"{fts5['p99']:>9.2f}{fts5['max']:>9.2f}   (built in {fts5['build_s']:.1f} s, "
                f"{_megabytes(fts5.get('bytes'))})"
            )
        lines += _query_lines(series, fts5)
        lines += _freshness_lines(size.get("freshness"))
        lines += load.format_lines(size.get("load"))
    return "\n".join(lines)


def _ratios(data: dict[str, Any]) -> str:
    ratio = data.get("ratio_fts5") or {}
    return " / ".join(f"{ratio[key]:g}" for key in ("p50", "p95", "p99") if key in ratio)


def _memory_lines(size: dict[str, Any]) -> list[str]:
    if size.get("rss_after_load_mb") is None:
        return []
    return [
        f"  memory (this process): RSS {size['rss_after_load_mb']:.0f} MB after loading, "
        f"{size.get('rss_after_series_mb') or 0:.0f} MB after the timed series, "
        f"peak {size.get('peak_rss_mb') or 0:.0f} MB"
    ]


def _freshness_lines(fresh: dict[str, Any] | None) -> list[str]:
    if not fresh:
        return []
    if "error" in fresh and not fresh.get("n"):
        return [f"  freshness: error: {fresh['error']}"]
    if not fresh.get("n"):
        return [f"  freshness: no trial succeeded ({fresh.get('errors', 0)} errors)"]
    polls = [t["poll_ms"] for t in fresh["trials"] if t.get("poll_ms")]
    return [
        f"  freshness (write in another process -> found by this app's API, n={fresh['n']}, "
        f"errors {fresh['errors']}): p50 {fresh['p50']:.0f} ms, p95 {fresh['p95']:.0f} ms, "
        f"max {fresh['max']:.0f} ms; writer's own write+index p50 {fresh['writer_p50_ms']:.0f} "
        f"ms; one poll ~{statistics.fmean(polls):.0f} ms"
    ]


def _query_lines(series: dict[str, Any], fts5: dict[str, Any] | None = None) -> list[str]:
    measured = [name for name, data in series.items() if data["status"] == "ok"]
    if not measured:
        return []
    base = (fts5 or {}).get("queries") or {}
    header = f"  {'query (p50 ms)':<19}{'hits':>7}" + "".join(f"{n:>13}" for n in measured)
    if base:
        header += f"{'FTS5 hits':>11}{'FTS5':>9}{'api x FTS5':>12}"
    lines = [header]
    for query in series[measured[0]]["queries"]:
        hits = series[measured[0]]["queries"][query].get("total")
        row = f"  {query:<19}{hits if hits is not None else '?':>7}"
        for name in measured:
            row += f"{series[name]['queries'][query].get('p50', float('nan')):>13.1f}"
        if query in base:
            ratio = (
                series.get("api", {}).get("queries", {}).get(query, {}).get("ratio_fts5")
            ) or {}
            row += f"{base[query]['total']:>11}{base[query].get('p50', float('nan')):>9.2f}"
            row += f"{ratio.get('p50', float('nan')):>12.1f}"
        lines.append(row)
    return lines


def parse_args(argv: Sequence[str] | None) -> Settings:
    """Command-line options → settings (quick mode: size 2000, fewer repeats, shorter budget)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.search_bench",
        description="Import throughput, index size and in-process search latency per corpus size.",
    )
    parser.add_argument("--sizes", default="20000", help="comma-separated entry counts")
    parser.add_argument(
        "--quick", action="store_true", help=f"size {QUICK_SIZE} only (not --sizes), few repeats"
    )
    parser.add_argument("--seed", type=int, default=42, help="corpus seed (default 42)")
    parser.add_argument("--repeats", type=int, help="timed rounds per series (default 30; quick 8)")
    parser.add_argument("--warmup", type=int, help="untimed rounds first (default 2; quick 1)")
    parser.add_argument("--series-seconds", type=float, help="time cap per series (300; quick 30)")
    parser.add_argument("--max-seconds", type=float, help="budget of the whole run (3600; 600)")
    parser.add_argument("--workdir", type=Path, help="where the temporary data folders go")
    parser.add_argument("--keep", action="store_true", help="keep the data folders")
    parser.add_argument(
        "--freshness-trials",
        type=int,
        default=10,
        help="writes in another process timed to searchable (default 10; 0 skips)",
    )
    parser.add_argument(
        "--load-seconds",
        type=float,
        help=f"gunicorn + wrk load per size (default {load.DEFAULT_SECONDS:g}; quick "
        f"{load.QUICK_SECONDS:g}; 0 skips)",
    )
    parser.add_argument(
        "--out", type=Path, default=OUT_DIR / "results.json", help="JSON results file"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    try:
        sizes = (QUICK_SIZE,) if quick else tuple(int(s) for s in args.sizes.split(",") if s)
    except ValueError:
        parser.error("--sizes takes whole numbers separated by commas, e.g. 2000,20000")
    if any(size < 1 for size in sizes):
        parser.error("sizes must be at least 1")
    budget = args.max_seconds or (600.0 if quick else 3600.0)
    return Settings(
        sizes=sizes,
        seed=args.seed,
        repeats=args.repeats or (8 if quick else 30),
        warmup=args.warmup if args.warmup is not None else (1 if quick else 2),
        series_seconds=args.series_seconds or (30.0 if quick else 300.0),
        deadline=time.monotonic() + budget,
        keep=args.keep,
        workdir=args.workdir,
        out=args.out,
        freshness_trials=max(0, args.freshness_trials),
        load_seed_size=not quick,
        load_seconds=max(
            0.0,
            args.load_seconds
            if args.load_seconds is not None
            else (load.QUICK_SECONDS if quick else load.DEFAULT_SECONDS),
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.search_bench``; exit 1 when a size or its load test failed."""
    settings = parse_args(argv)
    started = time.monotonic()
    results: dict[str, Any] = {
        "benchmark": "bucp-kb search",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "sizes": ["seed", *settings.sizes],
            "seed": settings.seed,
            "repeats": settings.repeats,
            "warmup": settings.warmup,
            "series_seconds": settings.series_seconds,
            "freshness_trials": settings.freshness_trials,
            "load_seconds": settings.load_seconds,
            "budget_seconds": round(settings.remaining()),
        },
        "queries": [vars(query) for query in fixed_queries(settings.seed)],
        "machine": machine_info(),
        "notes": [],
        "sizes": [],
    }
    plan: list[tuple[str, int | None]] = [("seed", None), *((str(n), n) for n in settings.sizes)]
    for label, size in plan:
        results["sizes"].append(run_size(label, size, settings))
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["machine"]["checkout_at_end"] = checkout_state()
    if results["machine"]["checkout_at_end"] != results["machine"]["checkout"]:
        results["notes"].append(
            "The checkout changed during the run (see machine.checkout, checkout_at_end and each "
            "size's checkout): the kb subprocesses ran the code of their moment, while this "
            "process measured search with the Python modules it had loaded first."
        )
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    settings.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(format_table(results))
    for note in results["notes"]:
        print(f"\nNote: {note}")
    print(f"\nResults: {settings.out} ({results['elapsed_s']:.0f} s)")
    failed = any(
        "error" in size or size.get("load", {}).get("status") == "error"
        for size in results["sizes"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
