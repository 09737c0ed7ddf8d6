#!/usr/bin/env python3
"""`make soak`: the real `switchboard serve` under a steady load for a long while.

Measures the gateway's maximum rate for the soak's mix with oha (closed loop, SOAK_CONCURRENCY
connections for SOAK_MAX_SECONDS, non-streamed and streamed requests each, combined by their
shares), then drives SOAK_LOAD_SHARE (80%) of it open loop for SOAK_MINUTES (default 10): one
oha process at a fixed rate per (alias, streaming) mix, SOAK_STREAM_SHARE of the load streaming
and SOAK_FLAPPY_SHARE to a flapping backend (a second mock killed and restarted every
SOAK_FLAP_SECONDS), the rest to a steady one, with a config change and reload every
SOAK_RELOAD_SECONDS. Reports the achieved vs the target rate, RSS, open file descriptors and CPU
over time, errors by backend (from oha's status counts and from the request log: a stream can
fail after its 200), and request-log rows written vs requests sent; writes the figures to
SOAK_OUT (default bench/results/soak-latest.json).

Pass/fail: achieved rate >= 95% of the target, RSS growth after warm-up (the first fifth) < 5%
(the halves' medians), no errors outside the flapping backend's, one log row per request sent in
every mix, fds not rising and back after the drain, every reload accepted.

Requests sent, per oha process: its answered requests (status counts) plus its failed ones
(error counts). oha runs with -w, so requests in flight at the deadline are finished and counted,
not dropped; a request that failed before reaching the gateway would count as sent with no row,
so the row check errs on the strict side.

  SOAK_MINUTES=3 make soak              # shorter
  SOAK_SKIP_BUILD=1 make soak           # the binaries already in $CARGO_TARGET_DIR/release
  SOAK_PROFILE=debug make soak          # debug binaries
"""
from __future__ import annotations

import heapq
import json
import os
import pathlib
import signal
import socket
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import loadgen  # noqa: E402 - the pinned oha, shared with bench/run.py

MINUTES = float(os.environ.get("SOAK_MINUTES", "10"))
# Connections for the max-rate measurement, and for each soak generator: enough that a slow
# moment (a flap, a reload, the machine busy) does not hold a fixed rate back.
CONC = int(os.environ.get("SOAK_CONCURRENCY", "64"))
MAX_S = float(os.environ.get("SOAK_MAX_SECONDS", "10"))
LOAD_SHARE = float(os.environ.get("SOAK_LOAD_SHARE", "0.8"))
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
# The least of the target a soak must reach; below it the load was not what it claims.
MIN_ACHIEVED = 0.95
CLK_TCK = os.sysconf("SC_CLK_TCK")


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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_text(steady: int, flappy: int, admin_file: pathlib.Path, generation: int) -> str:
    # max_mb = 0: every row is counted at the end, and at the soak's rate the default 500 MB cap
    # would prune the oldest ones within minutes.
    return (f"# soak config, generation {generation}\n"
            f"[server]\nadmin_token = \"file:{admin_file}\"\n\n"
            "[database]\nmax_mb = 0\n\n"
            f"[providers.steady]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{steady}/v1\"\n\n"
            f"[providers.flappy]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{flappy}/v1\"\n\n"
            "[aliases.steady]\ntargets = [\"steady/gpt-mock\"]\n\n"
            "[aliases.flappy]\ntargets = [\"flappy/gpt-mock\"]\nretries = { attempts = 1 }\n\n"
            f"[aliases.\"gen-{generation}\"]\ntargets = [\"steady/gpt-mock\"]\n")


def chat(alias: str, stream: bool) -> str:
    return json.dumps({"model": alias, "stream": stream,
                       "messages": [{"role": "user", "content": "soak test message"}]})


def oha_argv(oha: str, url: str, body: str, seconds: float, conns: int, rate: float | None) -> list[str]:
    # -w: requests in flight at the deadline finish and are counted (sent = answered + failed).
    argv = [oha, "-z", f"{seconds:g}s", "-c", str(conns), "-w", "--no-tui", "--output-format", "json",
            "-m", "POST", "-H", "content-type: application/json", "-d", body, "-t", "30s", url]
    if rate:
        argv[1:1] = ["-q", f"{rate:.2f}", "--latency-correction"]
    return argv


def oha_result(stdout: str, stderr: str) -> dict:
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"oha output unreadable ({e}): {stdout[-300:]} {stderr[-300:]}") from None
    codes = {str(k): v for k, v in data.get("statusCodeDistribution", {}).items()}
    failed = data.get("errorDistribution", {})
    pct = data.get("latencyPercentiles", {})
    answered = sum(codes.values())
    seconds = data.get("summary", {}).get("total") or 0.0
    return {
        "sent": answered + sum(failed.values()),
        "ok": sum(v for k, v in codes.items() if k.startswith("2")),
        "status": codes, "failed": failed, "seconds": round(seconds, 2),
        "latency_ms": {k: round((pct.get(k) or 0) * 1000, 2) for k in ("p50", "p99", "p99.9")},
    }


def run_oha(argv: list[str], timeout: float) -> dict:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return oha_result(done.stdout, done.stderr)


def max_rate(oha: str, url: str) -> tuple[float, dict]:
    """The soak mix's maximum rate: the closed-loop maxima of non-streamed and of streamed
    requests, combined by their shares. A stream costs several plain requests (one SSE event per
    chunk), so 80% of the non-streamed maximum alone would be more than the machine can do."""
    runs = {}
    for stream, share in ((False, 1 - STREAM_SHARE), (True, STREAM_SHARE)):
        if share <= 0:
            continue
        kind = "stream" if stream else "plain"
        log(f"measuring the max rate of {kind} requests with oha ({CONC} connections, {MAX_S:g} s closed loop)")
        body = chat("steady", stream)
        run_oha(oha_argv(oha, url, body, 2, CONC, None), 120)  # warm-up, not counted
        run = run_oha(oha_argv(oha, url, body, MAX_S, CONC, None), MAX_S + 120)
        if not run["ok"] or not run["seconds"]:
            raise RuntimeError(f"no {kind} request answered while measuring the max rate: {run}")
        run["max_rps"] = round(run["ok"] / run["seconds"], 1)
        run["share"] = share
        runs[kind] = run
    # Each request takes 1/max of the machine, so the mix's max is the shares' harmonic mean.
    peak = 1 / sum(r["share"] / r["max_rps"] for r in runs.values())
    return peak, runs


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies over all CPUs since boot."""
    values = [int(v) for v in pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def proc_stats(pid: int) -> tuple[int, int, int]:
    """RSS and its anonymous part (heap and stacks: what a leak grows; the rest is mapped files,
    the binary's code among them) in kB, and open fds."""
    rss = anon = 0
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("RssAnon:"):
            anon = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, anon, fds


def mix_name(alias: str, stream: bool) -> str:
    return f"{alias}-{'stream' if stream else 'plain'}"


def mixes(total_rate: float) -> list[dict]:
    """One generator per (alias, streaming) mix with a share of the load; none for a 0 share."""
    out = []
    for alias, alias_share in (("steady", 1 - FLAPPY_SHARE), ("flappy", FLAPPY_SHARE)):
        for stream, stream_share in ((False, 1 - STREAM_SHARE), (True, STREAM_SHARE)):
            share = alias_share * stream_share
            if share > 0:
                out.append({"name": mix_name(alias, stream), "alias": alias, "stream": stream,
                            "share": round(share, 4),
                            "target_rps": round(total_rate * share, 2)})
    return out


def soak(oha: str, url: str, pid: int, db: pathlib.Path, gens: list[dict], seconds: float,
         flap, reload) -> dict:
    """Runs the generators to their end with the chaos and the sampler on a clock beside them."""
    procs = []
    try:
        for g in gens:
            argv = oha_argv(oha, url, chat(g["alias"], g["stream"]), seconds, CONC, g["target_rps"])
            with open(db.parent / f"oha-{g['name']}.log", "w") as errors:
                procs.append((g, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, text=True)))
        return drive(procs, pid, db, seconds, flap, reload)
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()


def drive(procs: list, pid: int, db: pathlib.Path, seconds: float, flap, reload) -> dict:
    started = time.monotonic()
    samples: list[dict] = []
    # Rows written so far (the request log's ids only grow): progress without a count of sent.
    rows_db = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    first_id = rows_db.execute("SELECT COALESCE(MAX(id), 0) FROM requests").fetchone()[0]

    last = {"t": started, "gw_cpu": cpu_seconds(pid), "busy": machine_busy()}

    def sample() -> dict:
        rss, anon, fds = proc_stats(pid)
        logged = rows_db.execute("SELECT COALESCE(MAX(id), 0) FROM requests").fetchone()[0] - first_id
        now, gw_cpu, busy = time.monotonic(), cpu_seconds(pid), machine_busy()
        # CPU since the last sample: the gateway's in cores, the whole machine's in percent (all
        # CPUs), to tell a gateway at its limit from a machine busy with something else.
        gw_cores = (gw_cpu - last["gw_cpu"]) / max(now - last["t"], 1e-3)
        machine_pct = 100 * (busy[0] - last["busy"][0]) / max(busy[1] - last["busy"][1], 1)
        last.update(t=now, gw_cpu=gw_cpu, busy=busy)
        return {"t_s": round(now - started, 1), "rss_kb": rss, "anon_kb": anon, "fds": fds, "logged": logged,
                "gw_cores": round(gw_cores, 2), "machine_busy_pct": round(machine_pct, 1)}

    def record() -> None:
        samples.append(sample())
        # A run stopped early still leaves its samples.
        PARTIAL.parent.mkdir(parents=True, exist_ok=True)
        PARTIAL.write_text(json.dumps({"generators": [g for g, _ in procs], "samples": samples}) + "\n")

    end = started + seconds
    # (when, what, every): the chaos and the sampler, each on its own period, until the deadline.
    events = [(started, 0, record, SAMPLE_S), (started + FLAP_S, 1, flap, FLAP_S),
              (started + RELOAD_S, 2, reload, RELOAD_S)]
    heapq.heapify(events)
    while events:
        when, order, action, every = heapq.heappop(events)
        if when >= end:
            continue
        time.sleep(max(0.0, when - time.monotonic()))
        action()
        heapq.heappush(events, (when + every, order, action, every))
    for g, proc in procs:
        stdout, _ = proc.communicate(timeout=120)
        g["result"] = oha_result(stdout, (db.parent / f"oha-{g['name']}.log").read_text())
    elapsed = time.monotonic() - started
    time.sleep(1)  # the gateway closes the generators' connections
    drained = sample()
    rows_db.close()
    return {"samples": samples, "drained": drained, "elapsed_s": round(elapsed, 1)}


def log_counts(db: pathlib.Path, since_ms: int) -> dict:
    """Rows per (alias, streamed) since the soak began, and the failed ones by status/error."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT alias, streamed, COUNT(*), SUM(status >= 400 OR error_type IS NOT NULL) FROM requests "
            "WHERE endpoint = 'chat/completions' AND ts_ms >= ? GROUP BY alias, streamed", (since_ms,)).fetchall()
        failed = conn.execute(
            "SELECT alias, status, COALESCE(error_type, ''), COUNT(*) FROM requests WHERE endpoint = "
            "'chat/completions' AND ts_ms >= ? AND (status >= 400 OR error_type IS NOT NULL) "
            "GROUP BY alias, status, error_type ORDER BY 4 DESC", (since_ms,)).fetchall()
    out: dict = {}
    for alias, streamed, count, errors in rows:
        out[mix_name(alias, bool(streamed))] = {"rows": count, "errors": errors or 0}
    by_alias: dict = {}
    for alias, status, error_type, count in failed:
        by_alias.setdefault(alias, {})[f"{status} {error_type}".strip()] = count
    return {"mixes": out, "errors": by_alias}


def main() -> int:
    if os.environ.get("SOAK_SKIP_BUILD") != "1":
        build()
    reason = loadgen.ensure_oha(log)
    oha = loadgen.oha_path()
    if reason or not oha:
        log(f"cannot soak without the load generator: {reason}")
        return 2
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
    url = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
    try:
        for _ in range(100):
            try:
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
            generation["n"] += 1
            config.write_text(config_text(steady_port, flappy_port, admin_file, generation["n"]))
            req = urllib.request.Request(f"http://127.0.0.1:{gw_port}/admin/config/reload", method="POST",
                                         headers={"authorization": "Bearer sb-soak-admin"})
            try:
                urllib.request.urlopen(req, timeout=10)
                generation["reloads"] += 1
            except Exception:  # noqa: BLE001 - counted
                generation["reload_failures"] += 1

        peak, peak_runs = max_rate(oha, url)
        rate = LOAD_SHARE * peak
        gens = mixes(rate)
        log(", ".join(f"{k} max {r['max_rps']:.0f} req/s" for k, r in peak_runs.items())
            + f"; the mix's max {peak:.0f} req/s; soaking at {rate:.0f} req/s ({LOAD_SHARE:.0%}) for {MINUTES:g} min: "
            + ", ".join(f"{g['alias']}{' stream' if g['stream'] else ''} {g['target_rps']:.0f}" for g in gens))
        soak_start_ms = int(time.time() * 1000)
        result = soak(oha, url, gw.pid, db, gens, MINUTES * 60, flap, reload)
    finally:
        gw.send_signal(signal.SIGTERM)
        try:
            gw.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gw.kill()
        steady.kill()
        flappy["proc"].kill()
    warm = [s for s in result["samples"] if s["t_s"] >= MINUTES * 60 / 5]
    # Growth is the second half's median over the first's (after warm-up). Open loop, a slow
    # moment (the machine busy) briefly holds more requests in flight and RSS peaks 2-3 MB with
    # them, then falls back; a leak raises every later sample. The peak is reported too.
    warm_rss = [s["rss_kb"] for s in warm] or [result["samples"][0]["rss_kb"]]
    first_half_rss = round(statistics.median(warm_rss[:len(warm_rss) // 2] or warm_rss))
    second_half_rss = round(statistics.median(warm_rss[len(warm_rss) // 2:]))
    growth = (second_half_rss - first_half_rss) / first_half_rss * 100
    base_rss, peak_rss = warm_rss[0], max(warm_rss[len(warm_rss) // 2:])
    peak_growth = (peak_rss - base_rss) / base_rss * 100
    logged = log_counts(db, soak_start_ms)
    sent = sum(g["result"]["sent"] for g in gens)
    achieved = sum(g["result"]["sent"] / g["result"]["seconds"] for g in gens if g["result"]["seconds"])
    rows = sum(m["rows"] for m in logged["mixes"].values())
    for g in gens:
        g["log_rows"] = logged["mixes"].get(g["name"], {}).get("rows", 0)
        g["log_errors"] = logged["mixes"].get(g["name"], {}).get("errors", 0)
        g["achieved_rps"] = round(g["result"]["sent"] / g["result"]["seconds"], 1) if g["result"]["seconds"] else 0
    steady_gens = [g for g in gens if g["alias"] == "steady"]
    # The max-rate runs go to the steady backend too: an error there counts.
    steady_oha_errors = (sum(g["result"]["sent"] - g["result"]["ok"] for g in steady_gens)
                         + sum(r["sent"] - r["ok"] for r in peak_runs.values()))
    steady_log_errors = sum(g["log_errors"] for g in steady_gens)
    busy = [s for s in result["samples"] if s["t_s"] > 0]
    gw_cores = sum(s["gw_cores"] for s in busy) / max(len(busy), 1)
    machine_pct = sum(s["machine_busy_pct"] for s in busy) / max(len(busy), 1)
    warm_fds = [s["fds"] for s in warm] or [0]
    half = len(warm_fds) // 2
    # The median, not the maximum: open loop, a slow moment briefly opens more upstream
    # connections (the peaks come and go), while a leak raises every sample after it.
    fds_rise = round(statistics.median(warm_fds[half:] or warm_fds)
                     - statistics.median(warm_fds[:half] or warm_fds), 1)
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "profile": PROFILE, "cpus": os.cpu_count(), "minutes": MINUTES,
        "load_generator": f"oha {loadgen.OHA_VERSION}", "connections": CONC,
        "max_rate_rps": round(peak, 1), "max_rate_runs": peak_runs,
        "target_rate_rps": round(rate, 1), "achieved_rate_rps": round(achieved, 1),
        "gateway_cpu_cores_mean": round(gw_cores, 2), "machine_busy_pct_mean": round(machine_pct, 1),
        "sent": sent, "log_rows": rows, "generators": gens, "log_errors": logged["errors"],
        "rss_kb_median_first_half": first_half_rss, "rss_kb_median_second_half": second_half_rss,
        "rss_growth_pct": round(growth, 2), "rss_kb_after_warmup": base_rss,
        "rss_kb_max_second_half": peak_rss, "rss_peak_growth_pct": round(peak_growth, 2),
        "fds_min_max_after_warmup": [min(warm_fds), max(warm_fds)],
        "fds_median_rise_second_half": fds_rise,
        "flaps": flappy["flaps"], "reloads": generation["reloads"],
        "reload_failures": generation["reload_failures"], "samples": result["samples"],
        "after_drain": result["drained"], "elapsed_s": result["elapsed_s"],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1) + "\n")
    checks = {
        f"achieved rate >= {MIN_ACHIEVED:.0%} of the target": achieved >= MIN_ACHIEVED * rate,
        "RSS growth after warm-up < 5% (second half's median over the first's)": growth < 5,
        "0 errors outside the flapping backend (oha's counts, max-rate runs included)": steady_oha_errors == 0,
        "0 errors outside the flapping backend (request log)": steady_log_errors == 0,
        "a log row per request sent (in every mix)": all(g["log_rows"] == g["result"]["sent"] for g in gens)
        and rows == sent,
        # Under load fds follow the open connections (the flapping backend's come and go); a
        # leak shows as a rising count or as fds kept after the drain.
        "fds not rising (second half's median within 8 of the first half's)": fds_rise <= 8,
        "fds back after the drain (no more than under load's minimum)":
            result["drained"]["fds"] <= min(warm_fds),
        "every reload accepted": generation["reload_failures"] == 0,
    }
    log(f"achieved {achieved:.0f} of {rate:.0f} req/s ({achieved / rate:.1%}); sent {sent}, log rows {rows}; "
        f"RSS medians {first_half_rss} -> {second_half_rss} kB ({growth:+.2f}%; first sample "
        f"{base_rss} -> peak {peak_rss} kB, {peak_growth:+.2f}%); fds {report['fds_min_max_after_warmup']}, "
        f"{result['drained']['fds']} after the drain; flaps {flappy['flaps']}; reloads {generation['reloads']}; "
        f"gateway CPU {gw_cores:.2f} cores, machine {machine_pct:.0f}% busy (means)")
    for g in gens:
        r = g["result"]
        log(f"{g['alias']}{' stream' if g['stream'] else ''}: {g['achieved_rps']}/{g['target_rps']:.0f} req/s, "
            f"{r['ok']}/{r['sent']} ok, rows {g['log_rows']} ({g['log_errors']} failed), "
            f"p50 {r['latency_ms']['p50']} ms "
            f"p99 {r['latency_ms']['p99']} ms, status {r['status']}, failed {dict(list(r['failed'].items())[:3])}")
    log(f"failed rows by alias: {logged['errors']}")
    for name, ok in checks.items():
        log(f"{'ok  ' if ok else 'FAIL'} {name}")
    log(f"figures in {OUT}")
    if all(checks.values()):
        shutil.rmtree(tmp, ignore_errors=True)  # the database alone is ~300 MB per million rows
        return 0
    log(f"the gateway's log, oha's stderr and the database are kept in {tmp}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
