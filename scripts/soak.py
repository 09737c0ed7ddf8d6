#!/usr/bin/env python3
"""`make soak`: the real `switchboard serve` under a steady load for a long while.

Measures the gateway's maximum rate (closed loop, SOAK_CONCURRENCY connections), then drives
80% of it (open loop) for SOAK_MINUTES (default 10): streaming and non-streaming chat requests to
a steady backend and to a flapping one (a second mock that is killed and restarted every
SOAK_FLAP_SECONDS), with a config change and reload every SOAK_RELOAD_SECONDS. Reports RSS and
open file descriptors over time, errors by backend, and request-log rows written vs requests
sent; writes the figures to SOAK_OUT (default bench/results/soak-latest.json).

Pass/fail: RSS growth after warm-up (the first fifth) < 5%, no errors outside the flapping
backend's, one log row per request sent, fds not rising and back after the drain.

  SOAK_MINUTES=3 make soak              # shorter
  SOAK_PROFILE=debug make soak          # use debug binaries (no release build)
"""
from __future__ import annotations

import asyncio
import json
import os
import pathlib
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
MINUTES = float(os.environ.get("SOAK_MINUTES", "10"))
CONC = int(os.environ.get("SOAK_CONCURRENCY", "32"))
STREAM_SHARE = float(os.environ.get("SOAK_STREAM_SHARE", "0.2"))
FLAPPY_SHARE = float(os.environ.get("SOAK_FLAPPY_SHARE", "0.1"))
FLAP_S = float(os.environ.get("SOAK_FLAP_SECONDS", "15"))
RELOAD_S = float(os.environ.get("SOAK_RELOAD_SECONDS", "10"))
SAMPLE_S = float(os.environ.get("SOAK_SAMPLE_SECONDS", "5"))
PROFILE = os.environ.get("SOAK_PROFILE", "release")
OUT = pathlib.Path(os.environ.get("SOAK_OUT", ROOT / "bench/results/soak-latest.json"))
PARTIAL = OUT.with_name(OUT.stem + ".partial.json")
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache/switchboard-target"))
BIN = TARGET / PROFILE


def log(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def build() -> None:
    argv = ["cargo", "build", "--locked", "-p", "switchboard-cli", "-p", "mock-upstream", "--bins"]
    if PROFILE == "release":
        argv.insert(2, "--release")
    log(" ".join(argv))
    subprocess.run(argv, cwd=ROOT, check=True)


def spawn_mock(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([str(BIN / "mock-upstream"), "--listen", f"127.0.0.1:{port}",
                             "--stream-chunks", "20", "--chunk-interval-ms", "1", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening" not in line:
        raise RuntimeError(f"mock-upstream did not start: {line!r}")
    return proc


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_text(steady: int, flappy: int, admin_file: pathlib.Path, generation: int) -> str:
    return (f"# soak config, generation {generation}\n"
            f"[server]\nadmin_token = \"file:{admin_file}\"\n\n"
            f"[providers.steady]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{steady}/v1\"\n\n"
            f"[providers.flappy]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{flappy}/v1\"\n\n"
            "[aliases.steady]\ntargets = [\"steady/gpt-mock\"]\n\n"
            "[aliases.flappy]\ntargets = [\"flappy/gpt-mock\"]\nretries = { attempts = 1 }\n\n"
            f"[aliases.\"gen-{generation}\"]\ntargets = [\"steady/gpt-mock\"]\n")


class Client:
    """A minimal HTTP/1.1 keep-alive client (content-length and chunked bodies)."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = "") -> tuple[int, bytes]:
        for attempt in (0, 1):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                head = (f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                        f"content-length: {len(body)}\r\n{headers}\r\n").encode()
                self.writer.write(head + body)
                await self.writer.drain()
                return await self.read_response()
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    async def read_response(self) -> tuple[int, bytes]:
        assert self.reader is not None
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length, chunked, close = None, False, False
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            body = b"".join(parts)
        else:
            body = await self.reader.readexactly(length or 0)
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def chat(alias: str, stream: bool) -> bytes:
    return json.dumps({"model": alias, "stream": stream,
                       "messages": [{"role": "user", "content": "soak test message"}]}).encode()


async def max_rate(port: int, seconds: float) -> float:
    done = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        c = Client(port)
        while time.monotonic() < deadline:
            status, _ = await c.request("POST", "/v1/chat/completions", chat("steady", False))
            if status == 200:
                done += 1
        c.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(CONC)))
    return done / (time.monotonic() - started)


def proc_stats(pid: int) -> tuple[int, int]:
    rss = 0
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


async def soak(port: int, pid: int, rate: float, seconds: float, flap, reload) -> dict:
    counts = {"steady": {"sent": 0, "ok": 0, "errors": {}}, "flappy": {"sent": 0, "ok": 0, "errors": {}}}
    samples: list[dict] = []
    queue: asyncio.Queue = asyncio.Queue(maxsize=CONC * 4)
    started = time.monotonic()
    end = started + seconds
    late = 0

    async def producer() -> None:
        nonlocal late
        interval = 1.0 / rate
        next_at = time.monotonic()
        # Ends on the clock too: on a saturated machine the queue holds the producer back, and
        # the run is the set minutes at whatever rate was achieved (reported), not longer.
        while next_at < end and time.monotonic() < end:
            now = time.monotonic()
            if next_at > now:
                await asyncio.sleep(next_at - now)
            alias = "flappy" if random.random() < FLAPPY_SHARE else "steady"
            if queue.full():
                late += 1
            await queue.put((alias, random.random() < STREAM_SHARE))
            next_at += interval
        for _ in range(CONC):
            await queue.put(None)

    async def worker() -> None:
        c = Client(port)
        while (item := await queue.get()) is not None:
            alias, stream = item
            counts[alias]["sent"] += 1
            try:
                status, body = await c.request("POST", "/v1/chat/completions", chat(alias, stream))
                ok = status == 200 and (not stream or b"[DONE]" in body) and b"\"error\"" not in body
                key = "ok" if ok else f"{status}:{body[:120].decode('utf-8', 'replace')}"
            except Exception as e:  # noqa: BLE001 - every failure is counted
                key = f"exception:{type(e).__name__}"
            if key == "ok":
                counts[alias]["ok"] += 1
            else:
                counts[alias]["errors"][key] = counts[alias]["errors"].get(key, 0) + 1
        c.close()

    async def sampler() -> None:
        while time.monotonic() < end:
            rss, fds = proc_stats(pid)
            sent = counts["steady"]["sent"] + counts["flappy"]["sent"]
            samples.append({"t_s": round(time.monotonic() - started, 1), "rss_kb": rss, "fds": fds, "sent": sent})
            # A run stopped early (a saturated machine) still leaves its samples and counts.
            PARTIAL.parent.mkdir(parents=True, exist_ok=True)
            PARTIAL.write_text(json.dumps({"counts": counts, "samples": samples}) + "\n")
            await asyncio.sleep(SAMPLE_S)

    async def chaos(every: float, action) -> None:
        while True:
            await asyncio.sleep(every)
            if time.monotonic() >= end:
                return
            await asyncio.get_running_loop().run_in_executor(None, action)

    tasks = [asyncio.create_task(chaos(FLAP_S, flap)), asyncio.create_task(chaos(RELOAD_S, reload))]
    await asyncio.gather(producer(), sampler(), *(worker() for _ in range(CONC)))
    for t in tasks:
        t.cancel()
    elapsed = time.monotonic() - started
    rss, fds = proc_stats(pid)
    drained = {"t_s": round(elapsed, 1), "rss_kb": rss, "fds": fds,
               "sent": counts["steady"]["sent"] + counts["flappy"]["sent"]}
    return {"counts": counts, "samples": samples, "drained": drained,
            "elapsed_s": round(elapsed, 1), "queue_full": late}


def main() -> int:
    if os.environ.get("SOAK_SKIP_BUILD") != "1":
        build()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="switchboard-soak-"))
    home = tmp / "home"
    home.mkdir()
    admin_file = tmp / "admin.token"
    admin_file.write_text("sb-soak-admin")
    admin_file.chmod(0o600)
    steady_port, flappy_port, gw_port = free_port(), free_port(), free_port()
    steady = spawn_mock(steady_port)
    flappy = {"proc": spawn_mock(flappy_port), "up": True, "flaps": 0}
    config = tmp / "config.toml"
    generation = {"n": 0, "reloads": 0, "reload_failures": 0}
    config.write_text(config_text(steady_port, flappy_port, admin_file, 0))
    db = tmp / "switchboard.db"
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local/share"), SWITCHBOARD_LOG="warn", NO_COLOR="1")
    env.pop("SWITCHBOARD_CONFIG", None)
    gw = subprocess.Popen([str(BIN / "switchboard"), "--config", str(config), "serve", "--listen",
                           f"127.0.0.1:{gw_port}", "--database", str(db)],
                          env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "gateway.log", "w"))
    try:
        for _ in range(100):
            try:
                import urllib.request
                urllib.request.urlopen(f"http://127.0.0.1:{gw_port}/health", timeout=1)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)

        def flap() -> None:
            if flappy["up"]:
                flappy["proc"].kill()
                flappy["proc"].wait()
                flappy["up"] = False
            else:
                flappy["proc"] = spawn_mock(flappy_port)
                flappy["up"] = True
            flappy["flaps"] += 1

        def reload() -> None:
            import urllib.request
            generation["n"] += 1
            config.write_text(config_text(steady_port, flappy_port, admin_file, generation["n"]))
            req = urllib.request.Request(f"http://127.0.0.1:{gw_port}/admin/config/reload", method="POST",
                                         headers={"authorization": "Bearer sb-soak-admin"})
            try:
                urllib.request.urlopen(req, timeout=10)
                generation["reloads"] += 1
            except Exception:  # noqa: BLE001 - counted
                generation["reload_failures"] += 1

        log(f"measuring the max rate ({CONC} connections, 10 s, non-streaming)")
        peak = asyncio.run(max_rate(gw_port, 10))
        rate = 0.8 * peak
        log(f"max {peak:.0f} req/s; soaking at {rate:.0f} req/s for {MINUTES:g} min "
            f"({STREAM_SHARE:.0%} streaming, {FLAPPY_SHARE:.0%} to the flapping backend)")
        soak_start_ms = int(time.time() * 1000)
        result = asyncio.run(soak(gw_port, gw.pid, rate, MINUTES * 60, flap, reload))
    finally:
        gw.send_signal(signal.SIGTERM)
        try:
            gw.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gw.kill()
        steady.kill()
        flappy["proc"].kill()
    warm = [s for s in result["samples"] if s["t_s"] >= MINUTES * 60 / 5]
    base_rss = warm[0]["rss_kb"] if warm else result["samples"][0]["rss_kb"]
    late_rss = max(s["rss_kb"] for s in warm[len(warm) // 2:]) if warm else base_rss
    growth = (late_rss - base_rss) / base_rss * 100
    counts = result["counts"]
    sent = counts["steady"]["sent"] + counts["flappy"]["sent"]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM requests WHERE endpoint = 'chat/completions' AND ts_ms >= ?",
                            (soak_start_ms,)).fetchone()[0]
    warm_fds = [s["fds"] for s in warm] or [0]
    half = len(warm_fds) // 2
    fds_rise = max(warm_fds[half:] or [0]) - max(warm_fds[:half] or warm_fds)
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "profile": PROFILE, "cpus": os.cpu_count(), "minutes": MINUTES, "concurrency": CONC,
        "max_rate_rps": round(peak, 1), "target_rate_rps": round(rate, 1),
        "achieved_rate_rps": round(sent / result["elapsed_s"], 1),
        "sent": sent, "log_rows": rows, "counts": counts,
        "rss_kb_after_warmup": base_rss, "rss_kb_max_second_half": late_rss,
        "rss_growth_pct": round(growth, 2),
        "fds_min_max_after_warmup": [min(warm_fds), max(warm_fds)],
        "fds_rise_second_half": fds_rise,
        "flaps": flappy["flaps"], "reloads": generation["reloads"],
        "reload_failures": generation["reload_failures"], "samples": result["samples"],
        "after_drain": result["drained"],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1) + "\n")
    steady_errors = sum(counts["steady"]["errors"].values())
    checks = {
        "RSS growth after warm-up < 5%": growth < 5,
        "0 errors outside the flapping backend": steady_errors == 0,
        "a log row per request sent": rows == sent,
        # Under load fds follow the open connections (the flapping backend's come and go); a
        # leak shows as a rising count or as fds kept after the drain.
        "fds not rising (second half's max within 8 of the first half's)": fds_rise <= 8,
        "fds back after the drain (no more than under load's minimum)":
            result["drained"]["fds"] <= min(warm_fds),
        "every reload accepted": generation["reload_failures"] == 0,
    }
    log(f"sent {sent} in {result['elapsed_s']} s ({report['achieved_rate_rps']} req/s); "
        f"log rows {rows}; RSS {base_rss} -> {late_rss} kB ({growth:+.2f}%); "
        f"fds {report['fds_min_max_after_warmup']}; flaps {flappy['flaps']}; reloads {generation['reloads']}")
    log(f"steady: {counts['steady']['ok']}/{counts['steady']['sent']} ok, errors {counts['steady']['errors']}")
    log(f"flappy: {counts['flappy']['ok']}/{counts['flappy']['sent']} ok, errors "
        f"{dict(list(counts['flappy']['errors'].items())[:4])}")
    for name, ok in checks.items():
        log(f"{'ok  ' if ok else 'FAIL'} {name}")
    log(f"figures in {OUT}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
