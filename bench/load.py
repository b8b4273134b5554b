"""Throughput and errors of a production server (gunicorn, 2 workers) under load from ``wrk``.

    python -m bench.load DATA_DIR [--seconds 20] [--connections 8] [--seed 42] [--keep-alive]

Given a data folder that ``kb init`` (and ``kb import`` or ``kb seed``) already prepared, start
``<venv>/bin/gunicorn -w 2 -k gthread --threads 4 'kb:create_app()'`` on a free loopback port
with ``KB_DATA_DIR`` set and every other ``KB_*`` variable removed, wait (bounded) for
``GET /healthz`` = 200, warm every worker, then run ``wrk --latency`` for a bounded time with a
Lua script that rotates through the benchmark's fixed queries on the JSON API. Server and load
generator are pinned to stated cores with ``taskset`` when it exists. The server is always
stopped (terminate, then kill after a deadline). See bench/README.md, "Server under load".
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WRK = "/usr/bin/wrk"
APP = "kb:create_app()"
WORKERS = 2
WORKER_CLASS = "gthread"
THREADS = 4
#: One connection per server thread (2 workers x 4 threads): every thread can be busy.
CONNECTIONS = WORKERS * THREADS
WRK_THREADS = 1
#: wrk's per-request timeout (its default of 2 s would count slow searches as socket errors).
WRK_TIMEOUT_S = 10
STARTUP_S = 90.0
WARMUP_BURST_S = 2
WARMUP_MAX_BURSTS = 5
STOP_S = 15.0
DEFAULT_SECONDS = 20.0
QUICK_SECONDS = 10.0

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
_NUMBER = r"([\d.]+)"
_TIME = _NUMBER + r"(us|ms|s|m|h)"
_RE_THREADS = re.compile(r"^\s*(\d+) threads and (\d+) connections", re.M)
_RE_STATS = re.compile(rf"^\s*Latency\s+{_TIME}\s+{_TIME}\s+{_TIME}\s", re.M)
_RE_PERCENTILE = re.compile(rf"^\s*(50|75|90|99)(?:\.0+)?%\s+{_TIME}\s*$", re.M)
_RE_TOTAL = re.compile(rf"^\s*(\d+) requests in {_TIME}, {_NUMBER}([KMGTP]?)B read", re.M)
_RE_SOCKET = re.compile(
    r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.M
)
_RE_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses: (\d+)", re.M)
_RE_RATE = re.compile(rf"^Requests/sec:\s+{_NUMBER}", re.M)
_RE_TRANSFER = re.compile(rf"^Transfer/sec:\s+{_NUMBER}([KMGTP]?)B", re.M)


class LoadError(RuntimeError):
    """The server or the load generator failed (the message says which and why)."""


# --- wrk: the Lua script and its output -------------------------------------------------------


def _lua_string(text: str) -> str:
    """``text`` as a Lua string literal (backslashes, quotes and control characters escaped)."""
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\{ord(char):03d}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def lua_script(paths: Sequence[str]) -> str:
    """A wrk script sending GET ``paths`` in turn; wrk thread k starts at path k."""
    if not paths:
        raise ValueError("no paths to request")
    for path in paths:
        if not path.startswith("/"):
            raise ValueError(f"not a path: {path!r}")
    listed = "".join(f"  {_lua_string(path)},\n" for path in paths)
    return (
        "-- Written by bench/load.py: every request is the next of the fixed queries.\n"
        f"local paths = {{\n{listed}}}\n"
        "local next_offset = 0\n"
        "\n"
        "function setup(thread)\n"
        '  thread:set("offset", next_offset)\n'
        "  next_offset = next_offset + 1\n"
        "end\n"
        "\n"
        "function init(args)\n"
        "  counter = offset or 0\n"
        "end\n"
        "\n"
        "function request()\n"
        "  counter = counter + 1\n"
        '  return wrk.format("GET", paths[(counter - 1) % #paths + 1])\n'
        "end\n"
    )


def to_ms(number: str, unit: str) -> float:
    """A wrk time (``812.50us``, ``1.20ms``, ``2.01s``, ``1.50m``) in milliseconds."""
    return float(number) * _TIME_UNITS[unit]


def parse_wrk(output: str) -> dict[str, Any]:
    """The numbers of a ``wrk --latency`` report (times in ms, sizes in bytes).

    Raises ``ValueError`` when the output has no "N requests in T" line (wrk did not run).
    """
    total = _RE_TOTAL.search(output)
    rate = _RE_RATE.search(output)
    if not total or not rate:
        raise ValueError("unrecognised wrk output: no 'requests in' or 'Requests/sec' line")
    result: dict[str, Any] = {
        "requests": int(total.group(1)),
        "duration_s": round(to_ms(total.group(2), total.group(3)) / 1000, 3),
        "bytes_read": round(float(total.group(4)) * _SIZE_UNITS[total.group(5)]),
        "requests_per_s": float(rate.group(1)),
    }
    threads = _RE_THREADS.search(output)
    if threads:
        result["threads"], result["connections"] = int(threads.group(1)), int(threads.group(2))
    stats = _RE_STATS.search(output)
    if stats:
        result["latency_mean_ms"] = round(to_ms(stats.group(1), stats.group(2)), 3)
        result["latency_stdev_ms"] = round(to_ms(stats.group(3), stats.group(4)), 3)
        result["latency_max_ms"] = round(to_ms(stats.group(5), stats.group(6)), 3)
    for found in _RE_PERCENTILE.finditer(output):
        result[f"p{found.group(1)}_ms"] = round(to_ms(found.group(2), found.group(3)), 3)
    socket_errors = _RE_SOCKET.search(output)
    counts = [int(n) for n in socket_errors.groups()] if socket_errors else [0, 0, 0, 0]
    kinds = ("connect", "read", "write", "timeout")
    result["socket_errors"] = dict(zip(kinds, counts, strict=True))
    non_2xx = _RE_NON_2XX.search(output)
    result["non_2xx_3xx"] = int(non_2xx.group(1)) if non_2xx else 0
    result["errors"] = result["non_2xx_3xx"] + sum(counts)
    transfer = _RE_TRANSFER.search(output)
    if transfer:
        result["bytes_per_s"] = round(float(transfer.group(1)) * _SIZE_UNITS[transfer.group(2)])
    return result


# --- cores, ports, processes -------------------------------------------------------------------


def plan_cores(available: Sequence[int]) -> tuple[list[int], list[int]]:
    """(server cores, wrk cores): the server gets two cores, wrk the next one if there is one.

    With 2 cores wrk shares the second with the server; with 1 both share it.
    """
    cores = sorted(available)
    if not cores:
        raise ValueError("no cores")
    server = cores[:2]
    wrk = [cores[2]] if len(cores) > 2 else [cores[-1]]
    return server, wrk


def _cpu_list(cores: Sequence[int]) -> str:
    return ",".join(str(core) for core in cores)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(data_dir: Path) -> dict[str, str]:
    """This environment with ``KB_DATA_DIR`` set and every other ``KB_*`` variable removed."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("KB_") and name != "GUNICORN_CMD_ARGS"
    }
    # The fixed queries repeat: without this every request after the first round would be
    # answered from the result cache, and the load would measure the cache, not search.
    env.update(KB_DATA_DIR=str(data_dir), KB_SECRET_KEY="bench", KB_SEARCH_CACHE_SIZE="0")
    return env


def gunicorn_path() -> Path:
    """The gunicorn script of this interpreter's environment (the venv)."""
    return Path(sys.executable).with_name("gunicorn")


def wrk_path() -> str | None:
    """``/usr/bin/wrk``, or ``wrk`` on the PATH; None when there is none."""
    return WRK if Path(WRK).exists() else shutil.which("wrk")


def missing_tools() -> str | None:
    """Why the load test cannot run here (None when it can)."""
    if not gunicorn_path().exists():
        return (
            f"gunicorn not installed in this environment ({gunicorn_path()}; "
            "pip install -e '.[bench]')"
        )
    if wrk_path() is None:
        return f"wrk not installed ({WRK}; Debian: apt-get install wrk)"
    return None


def _get(url: str, timeout: float) -> tuple[int, bytes]:
    """Status and body of ``GET url`` (HTTP errors are answers too)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def _log_tail(path: Path, lines: int = 15) -> list[str]:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace").splitlines()[-lines:]
    return []


@functools.cache
def _supports_option(program: Path, option: str) -> bool:
    try:
        done = subprocess.run(
            [str(program), "--help"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return option in done.stdout


@dataclass
class Server:
    """A gunicorn master started by this module, its command, port and log file."""

    command: list[str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    worker_pids: list[int] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str]) -> None:
        """Start the master (its output goes to the log file)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def workers(self) -> list[Any]:
        """The master's live worker processes (psutil), remembering their ids."""
        import psutil

        assert self.process is not None
        try:
            children = psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return []
        self.worker_pids = sorted({*self.worker_pids, *(child.pid for child in children)})
        return sorted(children, key=lambda child: child.pid)

    def wait_healthy(self, timeout: float) -> float:
        """Seconds until ``/healthz`` answered 200 and every worker was up (bounded)."""
        assert self.process is not None
        started = time.monotonic()
        last = "no answer"
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise LoadError(f"gunicorn exited {self.process.returncode} during start-up")
            try:
                status, _ = _get(self.base + "/healthz", timeout=10)
                last = f"HTTP {status}"
            except (OSError, http.client.HTTPException) as exc:
                status, last = 0, f"{type(exc).__name__}: {exc}"
            if status == 200 and len(self.workers()) >= WORKERS:
                return time.monotonic() - started
            time.sleep(0.2)
        raise LoadError(f"/healthz not 200 within {timeout:.0f} s (last: {last})")

    def stop(self) -> dict[str, Any]:
        """Terminate the master (graceful), kill it and its workers after a deadline."""
        if self.process is None:
            return {"stopped": "never started"}
        with contextlib.suppress(Exception):
            self.workers()
        outcome: dict[str, Any] = {}
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_S)
                outcome["stopped"] = "terminated"
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                outcome["stopped"] = f"killed after {STOP_S:.0f} s"
        else:
            outcome["stopped"] = f"had exited ({self.process.returncode})"
        outcome["exit_code"] = self.process.returncode
        leftover = _kill_leftovers(self.worker_pids)
        if leftover:
            outcome["workers_killed"] = leftover
        return outcome


def _kill_leftovers(pids: Sequence[int]) -> list[int]:
    """Kill the workers (by id) still alive shortly after their master stopped."""
    try:
        import psutil
    except ImportError:
        return []
    alive = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
    if not alive:
        return []
    _, alive = psutil.wait_procs(alive, timeout=5)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGKILL)
    return [process.pid for process in alive]


# --- the measurement ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSettings:
    """How long and how hard to load the server."""

    seconds: float = DEFAULT_SECONDS
    connections: int = CONNECTIONS
    keep_alive: bool = False
    deadline: float | None = None  # time.monotonic() by which everything must be done


def _pinned(cores: list[int] | None, command: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    if cores is None or taskset is None:
        return command
    return [taskset, "-c", _cpu_list(cores), *command]


def core_plan() -> dict[str, Any]:
    """Which cores the server and wrk get (``taskset -c``), with what the machine has."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    plan: dict[str, Any] = {"cpu_count": os.cpu_count(), "available": available}
    if not available:
        return {**plan, "pinned": False, "reason": "no CPU affinity on this system"}
    if shutil.which("taskset") is None:
        return {**plan, "pinned": False, "reason": "taskset not found: nothing pinned"}
    server, wrk = plan_cores(available)
    shared = sorted(set(server) & set(wrk))
    return {**plan, "pinned": True, "server": server, "wrk": wrk, "shared": shared}


def gunicorn_command(port: int, log: Path, *, no_control_socket: bool) -> list[str]:
    """The server command (the production command of docs/operations.md, on loopback)."""
    command = [
        str(gunicorn_path()),
        "-w",
        str(WORKERS),
        "-k",
        WORKER_CLASS,
        "--threads",
        str(THREADS),
        "-b",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
        "--error-logfile",
        str(log),
    ]
    if no_control_socket:
        # gunicorn >= 25 opens ~/.gunicorn/gunicorn.ctl, shared with any other server.
        command.append("--no-control-socket")
    return [*command, APP]


def wrk_command(
    base: str, script: Path, seconds: float, connections: int, *, keep_alive: bool
) -> list[str]:
    """``wrk --latency`` for ``seconds`` (whole seconds, at least 1) with the Lua script."""
    wrk = wrk_path()
    assert wrk is not None
    command = [
        wrk,
        "-t",
        str(WRK_THREADS),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        f"{WRK_TIMEOUT_S}s",
        "--latency",
        "-s",
        str(script),
    ]
    if not keep_alive:
        command += ["-H", "Connection: close"]
    return [*command, base]


def _run_wrk(command: list[str], seconds: float) -> tuple[str, float]:
    """wrk's standard output and the CPU seconds it used (bounded by a timeout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=seconds + WRK_TIMEOUT_S + 30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise LoadError(f"wrk did not finish within {seconds + WRK_TIMEOUT_S + 30:.0f} s") from None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise LoadError(f"wrk exited {done.returncode}: {' | '.join(tail)}")
    return done.stdout, cpu


def _cpu_seconds(processes: Sequence[Any]) -> dict[int, float]:
    import psutil

    seconds = {}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            seconds[process.pid] = times.user + times.system
    return seconds


def _served_a_request(process: Any, data_dir: Path) -> bool:
    """Has this worker opened the database (done on its first request, kept by the pool)?"""
    import psutil

    database = str(data_dir / "kb.sqlite")
    with contextlib.suppress(psutil.Error):
        return any(item.path == database for item in process.open_files())
    return False


def warm_up(server: Server, paths: Sequence[str], wrk: list[str], data_dir: Path) -> dict[str, Any]:
    """Every query once (statuses recorded), then short wrk bursts until every worker served."""
    statuses: dict[str, int] = {}
    for path in paths:
        statuses[path] = _get(server.base + path, timeout=WRK_TIMEOUT_S * 3)[0]
    bursts = 0
    warmed: list[int] = []
    while bursts < WARMUP_MAX_BURSTS:
        _run_wrk(wrk, WARMUP_BURST_S)
        bursts += 1
        workers = server.workers()
        warmed = [w.pid for w in workers if _served_a_request(w, data_dir)]
        if len(warmed) >= WORKERS:
            break
    return {
        "statuses": statuses,
        "non_200": sum(status != 200 for status in statuses.values()),
        "wrk_bursts": bursts,
        "burst_s": WARMUP_BURST_S,
        "workers_warmed": len(warmed),
        "workers_checked_by": "worker has the database open (its first request opens it)",
    }


def _rss_mb(processes: Sequence[Any]) -> list[float]:
    import psutil

    sizes = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            sizes.append(round(process.memory_info().rss / 1_000_000, 1))
    return sizes


def measure_load(
    data_dir: Path, paths: Sequence[str], settings: LoadSettings | None = None
) -> dict[str, Any]:
    """gunicorn (2 workers) on ``data_dir`` under ``wrk`` load for ``settings.seconds``.

    Returns ``status`` "ok", "skipped" (with ``reason``) or "error" (with ``error`` and the tail
    of gunicorn's log); never raises for a server or wrk failure.
    """
    settings = settings or LoadSettings()
    result: dict[str, Any] = {
        "about": f"gunicorn -w {WORKERS} -k {WORKER_CLASS} --threads {THREADS} on 127.0.0.1, "
        f"loaded by wrk ({WRK_THREADS} thread, {settings.connections} connections, "
        f"{'keep-alive' if settings.keep_alive else 'Connection: close'}) rotating through "
        f"{len(paths)} GET URLs",
        "seconds": settings.seconds,
    }
    reason = missing_tools()
    try:
        import psutil  # noqa: F401
    except ImportError:
        reason = reason or "psutil not installed (pip install -e '.[bench]')"
    if reason is None and settings.deadline is not None:
        left = settings.deadline - time.monotonic()
        if left < settings.seconds + 60:
            reason = f"not enough time left in the budget ({left:.0f} s)"
    if reason:
        return {**result, "status": "skipped", "reason": reason}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kb-bench-load-") as scratch:
        _measure(Path(scratch), data_dir, paths, settings, result)
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    return result


def _measure(
    scratch: Path,
    data_dir: Path,
    paths: Sequence[str],
    settings: LoadSettings,
    result: dict[str, Any],
) -> None:
    cores = result["cores"] = core_plan()
    script = scratch / "rotate.lua"
    script.write_text(lua_script(paths), encoding="utf-8")
    log = scratch / "gunicorn.log"
    control = _supports_option(gunicorn_path(), "--no-control-socket")
    port = free_port()
    server_cmd = gunicorn_command(port, log, no_control_socket=control)
    server = Server(_pinned(cores.get("server"), server_cmd), port, log)
    result["server"] = {
        "command": server.command,
        "workers": WORKERS,
        "worker_class": WORKER_CLASS,
        "threads": THREADS,
    }
    wrk_cores = cores.get("wrk")
    keep_alive = settings.keep_alive

    def wrk(seconds: float) -> list[str]:
        command = wrk_command(
            server.base, script, seconds, settings.connections, keep_alive=keep_alive
        )
        return _pinned(wrk_cores, command)

    result["load_generator"] = {
        "command": wrk(settings.seconds),
        "threads": WRK_THREADS,
        "connections": settings.connections,
        "timeout_s": WRK_TIMEOUT_S,
        "keep_alive": keep_alive,
        "paths": list(paths),
    }
    try:
        server.start(server_environment(data_dir))
        startup = STARTUP_S
        if settings.deadline is not None:
            startup = min(startup, settings.deadline - time.monotonic() - settings.seconds - 30)
        result["server"]["startup_s"] = round(server.wait_healthy(startup), 2)
        result["warmup"] = warm_up(server, paths, wrk(WARMUP_BURST_S), data_dir)
        workers = server.workers()
        cpu_before = _cpu_seconds(workers)
        output, wrk_cpu = _run_wrk(wrk(settings.seconds), settings.seconds)
        cpu_after = _cpu_seconds(workers)
        result["wrk_output"] = output.splitlines()
        result["wrk"] = parsed = parse_wrk(output)
        result["errors"] = parsed["errors"]
        per_worker = [round(cpu_after[p] - cpu_before[p], 2) for p in cpu_before if p in cpu_after]
        duration = parsed["duration_s"] or settings.seconds
        result["cpu"] = {
            "server_workers_s": per_worker,
            "server_cores_busy": round(sum(per_worker) / duration, 2),
            "wrk_s": round(wrk_cpu, 2),
            "wrk_cores_busy": round(wrk_cpu / duration, 2),
        }
        result["rss_mb"] = {"workers": _rss_mb(workers), "master": _master_rss_mb(server)}
        result["status"] = "ok"
    except LoadError as exc:
        result.update(status="error", error=str(exc))
    except (ValueError, OSError, http.client.HTTPException) as exc:
        result.update(status="error", error=f"{type(exc).__name__}: {exc}")
    finally:
        result["server"]["stop"] = server.stop()
    if result["status"] == "error":
        result["gunicorn_log_tail"] = _log_tail(log)


def _master_rss_mb(server: Server) -> float | None:
    import psutil

    assert server.process is not None
    with contextlib.suppress(psutil.Error):
        sizes = _rss_mb([psutil.Process(server.process.pid)])
        return sizes[0] if sizes else None
    return None


# --- the report ---------------------------------------------------------------------------------


def describe_cores(cores: dict[str, Any]) -> str:
    """Which cores server and wrk had (``server cores 0,1, wrk core 1 (shared); 2 CPUs``)."""
    count = f"{cores.get('cpu_count')} CPUs"
    if not cores.get("pinned"):
        return f"not pinned: {cores.get('reason')}; {count}"
    shared = " (shared)" if cores.get("shared") else ""
    return (
        f"server cores {_cpu_list(cores['server'])}, wrk core {_cpu_list(cores['wrk'])}"
        f"{shared}; {count}"
    )


def format_lines(load: dict[str, Any] | None) -> list[str]:
    """The table lines of one load result (indented like the rest of the search table)."""
    if not load:
        return []
    if load.get("status") == "skipped":
        return [f"  server under load: skipped: {load['reason']}"]
    generator = load.get("load_generator", {})
    head = (
        f"  server under load (gunicorn {WORKERS} workers x {THREADS} threads, "
        f"wrk c={generator.get('connections')} for {load.get('seconds'):g} s; "
        f"{describe_cores(load.get('cores', {}))})"
    )
    if load.get("status") != "ok":
        return [head + ":", f"    error: {load.get('error')}"]
    wrk = load["wrk"]
    sockets = wrk["socket_errors"]
    cpu = load.get("cpu", {})
    rss = load.get("rss_mb", {})
    return [
        head + ":",
        f"    {wrk['requests_per_s']:.1f} req/s ({wrk['requests']} requests in "
        f"{wrk['duration_s']:.1f} s); latency p50 {wrk.get('p50_ms', 0):.0f} ms, "
        f"p75 {wrk.get('p75_ms', 0):.0f}, p90 {wrk.get('p90_ms', 0):.0f}, "
        f"p99 {wrk.get('p99_ms', 0):.0f} ms",
        f"    errors {wrk['errors']} (non-2xx/3xx {wrk['non_2xx_3xx']}, socket connect "
        f"{sockets['connect']} read {sockets['read']} write {sockets['write']} timeout "
        f"{sockets['timeout']}); CPU busy: server {cpu.get('server_cores_busy')} cores "
        f"(per worker {', '.join(f'{s:g}' for s in cpu.get('server_workers_s', []))} s), "
        f"wrk {cpu.get('wrk_cores_busy')}; RSS per worker "
        f"{' / '.join(f'{mb:.0f}' for mb in rss.get('workers', []))} MB after the load",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.load DATA_DIR``: print the table lines and the JSON result."""
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("data_dir", type=Path, help="a data folder prepared with kb init")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="load duration")
    parser.add_argument("--connections", type=int, default=CONNECTIONS, help="wrk connections")
    parser.add_argument("--seed", type=int, default=42, help="corpus seed of the fixed queries")
    parser.add_argument("--keep-alive", action="store_true", help="reuse connections")
    args = parser.parse_args(argv)
    from bench.search_bench import api_paths

    settings = LoadSettings(args.seconds, args.connections, keep_alive=args.keep_alive)
    result = measure_load(args.data_dir, api_paths(args.seed), settings)
    print(json.dumps(result, indent=2))
    print("\n".join(format_lines(result)))
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
