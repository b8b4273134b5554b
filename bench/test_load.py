"""Tests of the load test (bench/load.py): wrk's report parsed, the Lua script, the table lines.

.venv/bin/python -m pytest bench/test_load.py

No timing is asserted. The last two tests run the real wrk (and gunicorn) and are skipped when
/usr/bin/wrk is missing (CI does not install it).
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import corpus
from bench import load
from bench import search_bench

#: wrk's README example (a fast server, 12 threads) with a latency distribution added in
#: microseconds and milliseconds.
FAST = """\
Running 30s test @ http://127.0.0.1:8080/index.html
  12 threads and 400 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   635.91us    0.89ms  12.92ms   93.69%
    Req/Sec    56.20k     8.07k   62.00k    86.54%
  Latency Distribution
     50%  512.00us
     75%  701.00us
     90%    1.20ms
     99%    4.53ms
  22464657 requests in 30.00s, 17.76GB read
Requests/sec: 748868.53
Transfer/sec:    606.33MB
"""

#: Recorded here: gunicorn + the app on the seed content, 5 s (clean: no error lines).
CLEAN = """\
Running 5s test @ http://127.0.0.1:48703
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   142.30ms  111.18ms 686.34ms   74.17%
    Req/Sec    62.10     21.64   110.00     68.00%
  Latency Distribution
     50%  110.34ms
     75%  177.01ms
     90%  280.35ms
     99%  551.01ms
  302 requests in 5.01s, 1.67MB read
Requests/sec:     60.31
Transfer/sec:    341.72KB
"""

#: Shaped after a recording against a slow Python server (some answers after wrk's timeout,
#: some 500s), with the numbers changed to have seconds in the percentiles and a 1 minute run.
ERRORS = """\
Running 1m test @ http://127.0.0.1:18767/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10s   420.50ms   2.00s    66.67%
    Req/Sec     3.00      1.90     5.00     50.00%
  Latency Distribution
     50%  980.00ms
     75%    1.45s
     90%    1.90s
     99%    2.00s
  213 requests in 1.00m, 24.96KB read
  Socket errors: connect 0, read 3, write 1, timeout 17
  Non-2xx or 3xx responses: 42
Requests/sec:      3.55
Transfer/sec:     425.98B
"""


def test_parse_clean_output() -> None:
    parsed = load.parse_wrk(CLEAN)
    assert parsed["requests"] == 302
    assert parsed["duration_s"] == 5.01
    assert parsed["requests_per_s"] == 60.31
    assert (parsed["threads"], parsed["connections"]) == (1, 8)
    assert [parsed[f"p{p}_ms"] for p in (50, 75, 90, 99)] == [110.34, 177.01, 280.35, 551.01]
    assert parsed["latency_max_ms"] == 686.34
    assert parsed["socket_errors"] == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    assert parsed["non_2xx_3xx"] == 0 and parsed["errors"] == 0
    assert parsed["bytes_read"] == round(1.67 * 1024**2)
    assert parsed["bytes_per_s"] == round(341.72 * 1024)


def test_parse_microseconds_milliseconds_and_gigabytes() -> None:
    parsed = load.parse_wrk(FAST)
    assert parsed["p50_ms"] == 0.512 and parsed["p75_ms"] == 0.701
    assert parsed["p90_ms"] == 1.2 and parsed["p99_ms"] == 4.53
    assert parsed["latency_mean_ms"] == 0.636  # 635.91 us, rounded to the microsecond
    assert parsed["requests"] == 22464657 and parsed["duration_s"] == 30.0
    assert parsed["bytes_read"] == round(17.76 * 1024**3)
    assert (parsed["threads"], parsed["connections"]) == (12, 400)
    assert parsed["errors"] == 0


def test_parse_seconds_minutes_non_2xx_and_socket_errors() -> None:
    parsed = load.parse_wrk(ERRORS)
    assert parsed["p50_ms"] == 980.0
    assert parsed["p75_ms"] == 1450.0 and parsed["p90_ms"] == 1900.0 and parsed["p99_ms"] == 2000.0
    assert parsed["latency_mean_ms"] == 1100.0 and parsed["latency_max_ms"] == 2000.0
    assert parsed["duration_s"] == 60.0
    assert parsed["socket_errors"] == {"connect": 0, "read": 3, "write": 1, "timeout": 17}
    assert parsed["non_2xx_3xx"] == 42
    assert parsed["errors"] == 42 + 3 + 1 + 17
    assert parsed["bytes_per_s"] == 426  # 425.98B


def test_parse_rejects_output_without_a_report() -> None:
    with pytest.raises(ValueError, match="unrecognised wrk output"):
        load.parse_wrk("unable to connect to 127.0.0.1:18766 Connection refused\n")


def test_lua_script_lists_the_paths_in_order_and_rotates() -> None:
    paths = search_bench.api_paths(42)
    script = load.lua_script(paths)
    positions = [script.index(f'"{path}"') for path in paths]
    assert positions == sorted(positions)
    assert 'wrk.format("GET", paths[(counter - 1) % #paths + 1])' in script
    assert "function request()" in script and "function setup(thread)" in script
    assert all(path.startswith("/api/v1/search?") for path in paths)
    assert len(paths) == len(search_bench.fixed_queries(42))


def test_lua_script_escapes_and_checks_its_input() -> None:
    script = load.lua_script(['/a?q="x"\\y', "/b\n"])
    assert r'"/a?q=\"x\"\\y"' in script
    assert r'"/b\010"' in script
    with pytest.raises(ValueError):
        load.lua_script([])
    with pytest.raises(ValueError):
        load.lua_script(["http://example.org/"])


def test_plan_cores() -> None:
    assert load.plan_cores([1, 0]) == ([0, 1], [1])  # this machine: wrk shares core 1
    assert load.plan_cores([0]) == ([0], [0])
    assert load.plan_cores(range(8)) == ([0, 1], [2])


def test_commands_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KB_DATABASE_URL", "postgresql+psycopg://real/database")
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--workers 9")
    env = load.server_environment(tmp_path)
    assert env["KB_DATA_DIR"] == str(tmp_path)
    assert "KB_DATABASE_URL" not in env and "GUNICORN_CMD_ARGS" not in env
    server = load.gunicorn_command(8123, tmp_path / "log", no_control_socket=True)
    assert server[1:7] == ["-w", "2", "-k", "gthread", "--threads", "4"]
    assert "127.0.0.1:8123" in server and server[-1] == "kb:create_app()"
    script = tmp_path / "x.lua"
    wrk = load.wrk_command("http://127.0.0.1:1", script, 10, 8, keep_alive=False)
    assert wrk[-3:] == ["-H", "Connection: close", "http://127.0.0.1:1"]
    assert "--latency" in wrk and "10s" in wrk


def test_missing_wrk_is_a_skip_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "wrk_path", lambda: None)
    monkeypatch.setattr(load, "gunicorn_path", lambda: Path(__file__))  # exists
    result = load.measure_load(Path("/nonexistent"), ["/healthz"])
    assert result["status"] == "skipped" and "wrk not installed" in result["reason"]
    assert load.format_lines(result) == [f"  server under load: skipped: {result['reason']}"]


def test_format_lines_of_a_result() -> None:
    result: dict[str, Any] = {
        "status": "ok",
        "seconds": 20.0,
        "cores": {"cpu_count": 2, "pinned": True, "server": [0, 1], "wrk": [1], "shared": [1]},
        "load_generator": {"connections": 8},
        "wrk": load.parse_wrk(ERRORS),
        "cpu": {"server_cores_busy": 1.7, "server_workers_s": [17.0, 16.5], "wrk_cores_busy": 0.1},
        "rss_mb": {"workers": [150.2, 148.9]},
    }
    text = "\n".join(load.format_lines(result))
    assert "wrk c=8 for 20 s; server cores 0,1, wrk core 1 (shared); 2 CPUs" in text
    assert " req/s (213 requests in 60.0 s); latency p50 980 ms, p75 1450, p90 1900" in text
    assert "errors 63 (non-2xx/3xx 42, socket connect 0 read 3 write 1 timeout 17)" in text
    assert "RSS per worker 150 / 149 MB" in text


def test_load_seconds_option() -> None:
    assert search_bench.parse_args([]).load_seconds == load.DEFAULT_SECONDS
    assert search_bench.parse_args(["--quick"]).load_seconds == load.QUICK_SECONDS
    assert search_bench.parse_args(["--load-seconds", "0"]).load_seconds == 0


# --- with the real wrk --------------------------------------------------------------------------

needs_wrk = pytest.mark.skipif(
    load.wrk_path() is None, reason=f"wrk is not installed ({load.WRK}; apt-get install wrk)"
)


@pytest.fixture
def recording_server() -> Iterator[tuple[str, list[str]]]:
    """A tiny HTTP server on loopback that answers 200 and records the paths requested."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@needs_wrk
def test_wrk_runs_the_script_in_rotation(
    recording_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, seen = recording_server
    paths = ["/one?x=1", "/two?q=%22a+b%22", "/three"]
    script = tmp_path / "rotate.lua"
    script.write_text(load.lua_script(paths), encoding="utf-8")
    command = load.wrk_command(base, script, 1, 1, keep_alive=False)
    output, _ = load._run_wrk(command, 1)
    parsed = load.parse_wrk(output)
    assert parsed["requests"] > 3 and parsed["errors"] == 0
    # Consecutive requests take consecutive paths (wrk may call request() once before sending).
    start = paths.index(seen[0])
    assert seen[:6] == [paths[(start + i) % len(paths)] for i in range(6)]


@needs_wrk
@pytest.mark.skipif(not load.gunicorn_path().exists(), reason="gunicorn is not in the venv")
def test_gunicorn_under_wrk_for_two_seconds(tmp_path: Path) -> None:
    """Smoke test: a data folder with 30 imported entries, gunicorn + wrk for 2 s."""
    data_dir = tmp_path / "data"
    records = tmp_path / "records.jsonl"
    corpus.write_corpus(records, 30, 42)
    env = load.server_environment(data_dir)
    search_bench.run_kb(["init"], env, timeout=120)
    search_bench.run_kb(["import", str(records)], env, timeout=120)
    result = load.measure_load(
        data_dir,
        search_bench.api_paths(42),
        load.LoadSettings(seconds=2, deadline=time.monotonic() + 300),
    )
    assert result["status"] == "ok", result.get("error")
    assert result["wrk"]["requests"] > 0 and result["errors"] == 0
    assert result["warmup"]["non_200"] == 0 and result["warmup"]["workers_warmed"] == 2
    assert len(result["rss_mb"]["workers"]) == 2
    assert result["server"]["stop"]["stopped"] == "terminated"
