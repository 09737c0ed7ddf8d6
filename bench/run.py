#!/usr/bin/env python3
"""Switchboard benchmark harness (stdlib only). See bench/README.md.

Builds the release binaries, starts native mock upstreams, puts each contender (direct, nginx,
Switchboard, LiteLLM) in front of the same mocks, drives them with wrk / oha / stream-probe, and
writes bench/results/results-<time>.{json,md} (plus latest.{json,md}).

Environment:
  BENCH_QUICK=1            ~2-3 minute smoke run (short durations)
  BENCH_CONTENDERS=a,b     subset of direct,nginx,switchboard,litellm (direct is always run)
  BENCH_SAT_SECONDS, BENCH_LAT_SECONDS, BENCH_STREAM_SECONDS, BENCH_MANY_STREAMS,
  BENCH_READY_RUNS         override single durations / counts
  BENCH_SKIP_BUILD=1       use the binaries already in $CARGO_TARGET_DIR/release
  BENCH_NO_INSTALL=1       never install anything; missing tools mean skipped contenders
  BENCH_INSTALL_OHA=0      do not `cargo install oha` (latency then falls back to wrk, closed loop)
  BENCH_LITELLM_SPEC       pip requirement for LiteLLM (default: pinned, see LITELLM_SPEC)
  BENCH_SWITCHBOARD_BIN    another `switchboard` binary to measure (A/B comparisons)
  CARGO_TARGET_DIR         default $HOME/.cache/switchboard-target
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import loadgen  # the pinned oha, shared with scripts/soak.py
from loadgen import CACHE, CARGO_BIN, binary_path, oha_path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
HOME = Path.home()
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", str(HOME / ".cache" / "switchboard-target")))
RELEASE = TARGET_DIR / "release"
# BENCH_SWITCHBOARD_BIN: another build of `switchboard` (A/B comparisons); default the release one.
SWITCHBOARD_BIN = Path(os.environ.get("BENCH_SWITCHBOARD_BIN") or str(RELEASE / "switchboard"))
LITELLM_VENV = CACHE / "litellm-venv"
# Pinned tool versions, so runs on different machines and days compare (oha's: bench/loadgen.py).
LITELLM_SPEC = "litellm[proxy]==1.106.2"
PORTKEY_VERSION = "1.15.2"
PORTKEY_DIR = CACHE / "portkey"
PORTKEY_MAIN = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
# One bearer token for every contender (LiteLLM refuses to start without a master key).
KEY = "sk-bench-5f2c9a7e1d3b4c8f9a0e6d2b7c1f4a93"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CHAT_PATH = "/v1/chat/completions"
BODY = json.dumps(
    {
        "model": "bench",
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Summarise the plot of Hamlet in two sentences."},
        ],
        "max_tokens": 256,
        "temperature": 0.7,
    },
    separators=(",", ":"),
)
STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def env_num(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip() not in ("", "0", "false", "no")


# --------------------------------------------------------------------------------------------
# Settings


def settings() -> dict[str, Any]:
    quick = env_flag("BENCH_QUICK")
    s: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "sat_s": 2 if quick else 10,
        "warm_s": 1 if quick else 2,
        "lat_s": 3 if quick else 20,
        "stream_s": 2 if quick else 10,
        "many_streams": 1000,
        "ready_runs": 2 if quick else 5,
        "slow_ready_runs": 1,  # LiteLLM takes seconds to start
        "sat_concurrency": [1, 64, 512],
        # (concurrency, requests/s) for the fixed-rate latency runs; capped at half the
        # contender's own saturation rate so the load stays below saturation.
        "lat_points": [(1, 500), (64, 5000)],
        "stream_concurrency": [64],
        "mocks": {
            # name: (stream chunks, ms between chunks). Non-streamed answers come from `fast`.
            "fast": (200, 2.0),  # long paced streams: gaps and buffering
            "short": (5, 1.0),  # short streams one at a time: time to first byte
            "slow": (30, 100.0),  # 1,000 concurrent streams held open ~3 s: memory
        },
        "content_bytes": 400,
    }
    s["sat_s"] = env_num("BENCH_SAT_SECONDS", s["sat_s"])
    s["lat_s"] = env_num("BENCH_LAT_SECONDS", s["lat_s"])
    s["stream_s"] = env_num("BENCH_STREAM_SECONDS", s["stream_s"])
    s["many_streams"] = int(env_num("BENCH_MANY_STREAMS", s["many_streams"]))
    s["ready_runs"] = max(1, int(env_num("BENCH_READY_RUNS", s["ready_runs"])))
    wanted = os.environ.get("BENCH_CONTENDERS", "").strip()
    s["contenders"] = ["direct", "nginx", "switchboard", "portkey", "litellm"]
    if wanted:
        chosen = {w.strip() for w in wanted.split(",") if w.strip()}
        s["contenders"] = [c for c in s["contenders"] if c == "direct" or c in chosen]
    return s


# --------------------------------------------------------------------------------------------
# /proc helpers


def children_map() -> dict[int, list[int]]:
    result: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        result.setdefault(int(fields[1]), []).append(int(entry))
    return result


def process_tree(pid: int) -> list[int]:
    kids = children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLK_TCK


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def system_cpu() -> tuple[float, float]:
    """(busy, steal) CPU-seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def own_cpu() -> float:
    """CPU-seconds used by this script and everything it started (live or reaped)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return total + sum(cpu_seconds(p.pids()) for p in LIVE if p.alive())


class Noise:
    """CPU used by processes this benchmark did not start (other work on the machine)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.busy0, self.steal0 = system_cpu()
        self.own0 = own_cpu()

    def read(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        busy, steal = system_cpu()
        foreign = max(0.0, (busy - self.busy0) - (own_cpu() - self.own0))
        ncpu = os.cpu_count() or 1
        return {"wall_s": round(wall, 2), "foreign_cpu_s": round(foreign, 2),
                "foreign_share": round(foreign / max(wall * ncpu, 1e-9), 4),
                "steal_s": round(steal - self.steal0, 2),
                "loadavg_1m": float(Path("/proc/loadavg").read_text().split()[0])}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Processes


class Proc:
    """A child in its own session, pinned to `cpus`, output to files in `logdir`."""

    def __init__(self, name: str, argv: list[str], cpus: set[int], logdir: Path,
                 env: dict[str, str] | None = None, cwd: Path | None = None):
        self.name = name
        self.out_path = logdir / f"{name}.out"
        self.err_path = logdir / f"{name}.err"
        out = open(self.out_path, "ab")
        err = open(self.err_path, "ab")

        def pin() -> None:
            os.sched_setaffinity(0, cpus)

        self.started = time.perf_counter()
        self.popen = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                      env=env, cwd=cwd, preexec_fn=pin, start_new_session=True)
        out.close()
        err.close()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        return process_tree(self.popen.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        text = ""
        for path in (self.err_path, self.out_path):
            try:
                text += path.read_text(errors="replace")
            except OSError:
                pass
        return "\n".join(text.strip().splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait()


LIVE: list[Proc] = []


def spawn(*args: Any, **kwargs: Any) -> Proc:
    proc = Proc(*args, **kwargs)
    LIVE.append(proc)
    return proc


def stop_all() -> None:
    for proc in reversed(LIVE):
        try:
            proc.stop(5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def run(argv: list[str], timeout: float | None = None, env: dict[str, str] | None = None,
        check: bool = False) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])}... exited {result.returncode}: "
                           f"{(result.stderr or result.stdout).strip()[-800:]}")
    return result


def post_once(port: int, body: str = BODY, timeout: float = 5.0,
              headers: list[str] | None = None) -> int:
    """One raw HTTP/1.1 POST; returns the status (0 when the connection fails)."""
    extra = "".join(f"{h}\r\n" for h in headers or [])
    request = (f"POST {CHAT_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}"
               f"Content-Type: application/json\r\nAuthorization: Bearer {KEY}\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}").encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(request)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return 0
    try:
        status = int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0
    return status if b"choices" in data else 0


def wait_ready(proc: Proc, port: int, timeout: float, headers: list[str] | None = None) -> float:
    """Milliseconds from just before the process was spawned to its first served completion."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        if post_once(port, headers=headers) == 200:
            return (time.perf_counter() - proc.started) * 1000.0
        time.sleep(0.0005 if time.perf_counter() - proc.started < 2 else 0.01)
    raise RuntimeError(f"{proc.name} not ready after {timeout:.0f} s:\n{proc.tail()}")


def settle(pids_fn: Callable[[], list[int]], max_s: float = 30.0) -> None:
    """Waits until the server is (nearly) idle, e.g. LiteLLM still draining a queue."""
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        pids = pids_fn()
        before = cpu_seconds(pids)
        time.sleep(0.3)
        if cpu_seconds(pids) - before < 0.03:
            return


# --------------------------------------------------------------------------------------------
# Installs (idempotent)


def privileged(argv: list[str]) -> list[str] | None:
    if os.geteuid() == 0:
        return argv
    if shutil.which("sudo"):
        return ["sudo"] + argv
    return None


def ensure_apt(binary: str, package: str) -> str | None:
    """Returns None when `binary` is available, else the reason it is not."""
    if shutil.which(binary) or Path(f"/usr/sbin/{binary}").exists():
        return None
    if env_flag("BENCH_NO_INSTALL"):
        return f"{binary} not installed (BENCH_NO_INSTALL set)"
    install = privileged(["apt-get", "install", "-y", "-q", package])
    update = privileged(["apt-get", "update", "-q"])
    if not shutil.which("apt-get"):
        return f"{binary} not installed and no apt-get here to install it (install {package} yourself)"
    if install is None or update is None:
        return f"{binary} missing and no root/sudo to apt-get install {package}"
    log(f"installing {package} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    result = run(install, timeout=900, env=env)
    if result.returncode != 0:
        run(update, timeout=900, env=env)
        result = run(install, timeout=900, env=env)
    if result.returncode != 0 or not (shutil.which(binary) or Path(f"/usr/sbin/{binary}").exists()):
        return f"apt-get install {package} failed: {(result.stderr or result.stdout).strip()[-300:]}"
    return None


def ensure_apt_package(package: str) -> str | None:
    """Installs a Debian package (no binary to check); None on success, else the reason."""
    if env_flag("BENCH_NO_INSTALL"):
        return f"{package} not installed (BENCH_NO_INSTALL set)"
    install = privileged(["apt-get", "install", "-y", "-q", package])
    if install is None or not shutil.which("apt-get"):
        return f"no apt-get with root/sudo to install {package}"
    log(f"installing {package} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    result = run(install, timeout=900, env=env)
    if result.returncode != 0:
        update = privileged(["apt-get", "update", "-q"])
        if update:
            run(update, timeout=900, env=env)
        result = run(install, timeout=900, env=env)
    return None if result.returncode == 0 else f"apt-get install {package} failed"


def ensure_oha() -> str | None:
    allowed = not env_flag("BENCH_NO_INSTALL") and os.environ.get("BENCH_INSTALL_OHA", "1") != "0"
    return loadgen.ensure_oha(log, allowed)


def litellm_version() -> str | None:
    python = LITELLM_VENV / "bin" / "python"
    if not (LITELLM_VENV / "bin" / "litellm").exists() or not python.exists():
        return None
    result = run([str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                 timeout=120)
    return result.stdout.strip() if result.returncode == 0 else None


def ensure_litellm() -> str | None:
    spec = os.environ.get("BENCH_LITELLM_SPEC", LITELLM_SPEC)
    pinned = spec.split("==", 1)[1] if "==" in spec else None
    have = litellm_version()
    if have and (pinned is None or have == pinned):
        return None
    if env_flag("BENCH_NO_INSTALL"):
        return f"LiteLLM {pinned or ''} not installed (BENCH_NO_INSTALL set)"
    log(f"installing {spec} from PyPI into {LITELLM_VENV} (first time only)")
    LITELLM_VENV.parent.mkdir(parents=True, exist_ok=True)
    if not (LITELLM_VENV / "bin" / "pip").exists():
        result = run([sys.executable, "-m", "venv", str(LITELLM_VENV)], timeout=300)
        if result.returncode != 0:
            # Debian ships venv support separately.
            if ensure_apt_package("python3-venv") is None:
                shutil.rmtree(LITELLM_VENV, ignore_errors=True)
                result = run([sys.executable, "-m", "venv", str(LITELLM_VENV)], timeout=300)
        if result.returncode != 0:
            return f"python -m venv failed: {(result.stderr or result.stdout).strip()[-300:]}"
    pip = str(LITELLM_VENV / "bin" / "pip")
    result = run([pip, "install", "-q", spec], timeout=3600)
    have = litellm_version()
    if result.returncode != 0 or not have:
        return f"pip install {spec} failed: {(result.stderr or result.stdout).strip()[-300:]}"
    return None


def portkey_version() -> str | None:
    package = PORTKEY_MAIN.parent.parent / "package.json"
    if not PORTKEY_MAIN.exists() or not package.exists():
        return None
    try:
        return json.loads(package.read_text()).get("version")
    except (OSError, ValueError):
        return None


def ensure_portkey() -> str | None:
    if portkey_version() == PORTKEY_VERSION:
        return None
    npm = binary_path("npm")
    if not npm:
        return "npm not found (scripts/bootstrap.sh bench installs the Portkey gateway with it)"
    if env_flag("BENCH_NO_INSTALL"):
        return f"@portkey-ai/gateway {PORTKEY_VERSION} not installed (BENCH_NO_INSTALL set)"
    log(f"installing @portkey-ai/gateway@{PORTKEY_VERSION} from npm into {PORTKEY_DIR} (first time only)")
    PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
    result = run([npm, "install", "--prefix", str(PORTKEY_DIR), "--no-audit", "--no-fund",
                  "--loglevel=error", f"@portkey-ai/gateway@{PORTKEY_VERSION}"], timeout=1800)
    if result.returncode != 0 or portkey_version() != PORTKEY_VERSION:
        return f"npm install @portkey-ai/gateway failed: {(result.stderr or result.stdout).strip()[-300:]}"
    return None


def build() -> None:
    if env_flag("BENCH_SKIP_BUILD"):
        log("BENCH_SKIP_BUILD set: using existing release binaries")
    else:
        log(f"cargo build --release (CARGO_TARGET_DIR={TARGET_DIR})")
        env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET_DIR),
                   PATH=f"{CARGO_BIN}:{os.environ.get('PATH', '')}")
        result = subprocess.run(["cargo", "build", "--release", "--locked", "-p", "switchboard-cli",
                                 "-p", "mock-upstream", "--bins"], cwd=ROOT, env=env)
        if result.returncode != 0:
            raise SystemExit("bench: release build failed")
    for name in ("switchboard", "mock-upstream", "stream-probe"):
        if not (RELEASE / name).exists():
            raise SystemExit(f"bench: {RELEASE / name} missing")


# --------------------------------------------------------------------------------------------
# Machine description


def first_line(argv: list[str]) -> str:
    try:
        result = run(argv, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    text = (result.stdout or "") + (result.stderr or "")
    return text.strip().splitlines()[0] if text.strip() else "unknown"


def machine(cpus: dict[str, set[int]], tools: dict[str, str | None]) -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    mem_kb = 0
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        pass
    hypervisor = ""
    try:
        lscpu = run(["lscpu"], timeout=10).stdout
        for line in lscpu.splitlines():
            if line.startswith("Hypervisor vendor"):
                hypervisor = line.split(":", 1)[1].strip()
    except OSError:
        pass
    versions = {
        "switchboard": first_line([str(SWITCHBOARD_BIN), "--version"]),
        "rustc": first_line(["rustc", "-V"]),
        "python": sys.version.split()[0],
    }
    if tools.get("wrk"):
        versions["wrk"] = first_line([tools["wrk"], "-v"])
    if tools.get("oha"):
        versions["oha"] = first_line([tools["oha"], "--version"])
    if tools.get("nginx"):
        versions["nginx"] = first_line([tools["nginx"], "-v"])
    if (LITELLM_VENV / "bin" / "python").exists():
        versions["litellm"] = first_line([str(LITELLM_VENV / "bin" / "python"), "-c",
                                          "import importlib.metadata as m; print(m.version('litellm'))"])
    if portkey_version():
        versions["portkey"] = f"@portkey-ai/gateway {portkey_version()} (node {first_line(['node', '--version'])})"
    git = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = run(["git", "-C", str(ROOT), "status", "--porcelain"], timeout=30).stdout.strip()
    return {
        "cpu_model": model,
        "hypervisor": hypervisor,
        "cpus_online": os.cpu_count(),
        "cpus_usable": sorted(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": os_name,
        "git": git + (" (with uncommitted changes)" if dirty else ""),
        "switchboard_binary_built": dt.datetime.fromtimestamp(
            SWITCHBOARD_BIN.stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions,
        "pinning": {k: sorted(v) for k, v in cpus.items()},
    }


def cpu_layout() -> dict[str, set[int]]:
    usable = sorted(os.sched_getaffinity(0))
    if len(usable) >= 3:
        return {"proxy": {usable[0]}, "mock": {usable[1]}, "load": set(usable[2:])}
    if len(usable) == 2:
        return {"proxy": {usable[0]}, "mock": {usable[1]}, "load": {usable[1]}}
    return {"proxy": set(usable), "mock": set(usable), "load": set(usable)}


def pinning_note(cpus: dict[str, set[int]]) -> str:
    def fmt(s: set[int]) -> str:
        return ",".join(map(str, sorted(s)))
    if cpus["mock"] == cpus["load"] and cpus["proxy"] != cpus["mock"]:
        n = len(cpus["proxy"] | cpus["mock"] | cpus["load"])
        return (f"{n} usable CPUs: the proxy under test runs alone on CPU "
                f"{fmt(cpus['proxy'])}; the mock upstreams, the load generator (wrk/oha), the stream "
                f"probe and this script share CPU {fmt(cpus['mock'])}. `direct` therefore runs mock "
                f"and load generator on one CPU with CPU {fmt(cpus['proxy'])} idle.")
    if cpus["proxy"] == cpus["mock"]:
        return "one usable CPU: everything shares it; ratios are indicative only."
    return (f"proxy on CPU {fmt(cpus['proxy'])}, mocks on CPU {fmt(cpus['mock'])}, load generator "
            f"and probe on CPU {fmt(cpus['load'])}.")


# --------------------------------------------------------------------------------------------
# Contenders


class Contender:
    name = ""
    label = ""
    slow_start = False
    # A peer's streaming is probed once first: when the peer itself cannot stream (its own bug,
    # not the setup's), its stream scenarios are skipped with the reason instead of failing the run.
    peer = False
    # A known upstream bug to name when the probe finds the peer's streaming broken.
    stream_known_issue = ""

    def __init__(self, ctx: "Context"):
        self.ctx = ctx
        self.port = free_port()
        self.proc: Proc | None = None

    def prepare(self) -> str | None:
        """Installs / writes config. Returns a reason when the contender must be skipped."""
        return None

    def launch(self, tag: str) -> Proc:
        raise NotImplementedError

    def url(self, mock: str) -> str:
        return f"http://127.0.0.1:{self.port}{CHAT_PATH}"

    def model(self, mock: str) -> str:
        return "bench" if mock == "fast" else f"bench-{mock}"

    def headers(self, mock: str) -> list[str]:
        """Extra request headers (`name: value`) every request to this contender carries."""
        return []

    def server_pids(self, mock: str = "fast") -> list[int]:
        assert self.proc is not None
        return self.proc.pids()

    def after(self) -> dict[str, Any]:
        return {}


class Direct(Contender):
    name = "direct"
    label = "direct (mock, no proxy)"

    def launch(self, tag: str) -> Proc:
        # Only used to time a mock's start; the shared mocks serve the load.
        chunks, interval = self.ctx.s["mocks"]["fast"]
        return spawn(f"mock-ready-{tag}", [str(RELEASE / "mock-upstream"), "--listen",
                     f"127.0.0.1:{self.port}", "--stream-chunks", str(chunks),
                     "--chunk-interval-ms", str(interval), "--content-bytes",
                     str(self.ctx.s["content_bytes"]), "--threads", "1"],
                     self.ctx.cpus["proxy"], self.ctx.logdir)

    def url(self, mock: str) -> str:
        return f"http://127.0.0.1:{self.ctx.mock_ports[mock]}{CHAT_PATH}"

    def server_pids(self, mock: str = "fast") -> list[int]:
        return self.ctx.mocks[mock].pids()


class Nginx(Contender):
    name = "nginx"
    label = "nginx (reverse proxy)"

    def prepare(self) -> str | None:
        reason = ensure_apt("nginx", "nginx")
        if reason:
            return reason
        self.binary = binary_path("nginx") or "nginx"
        self.dir = self.ctx.workdir / "nginx"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ports = {"fast": self.port, "short": free_port(), "slow": free_port()}
        upstreams, servers = [], []
        for mock, port in self.ports.items():
            upstreams.append(f"""
    upstream mock_{mock} {{
        server 127.0.0.1:{self.ctx.mock_ports[mock]};
        keepalive 1024;
        keepalive_requests 1000000;
    }}""")
            servers.append(f"""
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://mock_{mock};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
    }}""")
        d = self.dir
        (d / "nginx.conf").write_text(f"""# generated by bench/run.py
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
worker_rlimit_nofile 65536;
events {{
    worker_connections 16384;
}}
http {{
    access_log {d}/access.log combined buffer=64k flush=1s;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
{''.join(upstreams)}
{''.join(servers)}
}}
""")
        return None

    def launch(self, tag: str) -> Proc:
        self.proc = spawn(f"nginx-{tag}", [self.binary, "-p", str(self.dir), "-e",
                          str(self.dir / "error.log"), "-c", str(self.dir / "nginx.conf")],
                          self.ctx.cpus["proxy"], self.ctx.logdir)
        return self.proc

    def url(self, mock: str) -> str:
        return f"http://127.0.0.1:{self.ports[mock]}{CHAT_PATH}"


class Switchboard(Contender):
    name = "switchboard"
    label = "Switchboard (request log on)"

    def prepare(self) -> str | None:
        self.dir = self.ctx.workdir / "switchboard"
        self.dir.mkdir(parents=True, exist_ok=True)
        lines = [
            "# generated by bench/run.py",
            f'listen = "127.0.0.1:{self.port}"',
            "",
            "[server]",
            "shutdown_grace_s = 2",
            "",
        ]
        self.config = self.dir / "switchboard.toml"
        self.db: Path | None = None
        # Shipped defaults: total latency is never a breaker failure, so a sub-millisecond mock
        # under saturation keeps serving (it used to need `slow_factor = 1000000` here).
        self.config.write_text(self.render())
        self.breaker_note = "shipped default breaker settings"
        log(f"  Switchboard config: {self.breaker_note}")
        return None

    def render(self) -> str:
        lines = [
            "# generated by bench/run.py",
            f'listen = "127.0.0.1:{self.port}"',
            "",
            "[server]",
            "shutdown_grace_s = 2",
            "",
        ]
        for mock, port in self.ctx.mock_ports.items():
            lines += [f"[providers.{mock}]", 'kind = "openai"',
                      f'base_url = "http://127.0.0.1:{port}/v1"',
                      'api_key = "env:SWITCHBOARD_BENCH_UPSTREAM_KEY"']
            lines += [""]
        for mock in self.ctx.mock_ports:
            lines += [f'[aliases."{self.model(mock)}"]', f'targets = ["{mock}/bench-model"]', ""]
        # The translated path chat client -> Anthropic backend: the fast mock's Messages API.
        lines += ["[providers.fast-anthropic]", 'kind = "anthropic"',
                  f'base_url = "http://127.0.0.1:{self.ctx.mock_ports["fast"]}"',
                  'api_key = "env:SWITCHBOARD_BENCH_UPSTREAM_KEY"', "",
                  '[aliases."bench-anthropic"]', 'targets = ["fast-anthropic/claude-bench"]', ""]
        return "\n".join(lines)

    def launch(self, tag: str, prefix: list[str] | None = None) -> Proc:
        # Like the default layout (config dir and data dir apart): the config watcher sees the
        # config's directory only, not the database's writes.
        db_dir = self.ctx.workdir / "switchboard-data"
        db_dir.mkdir(parents=True, exist_ok=True)
        self.db = db_dir / f"requests-{tag}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.db) + suffix).unlink(missing_ok=True)
        env = dict(os.environ, SWITCHBOARD_BENCH_UPSTREAM_KEY="sk-upstream-bench")
        self.proc = spawn(f"switchboard-{tag}", (prefix or []) + [str(SWITCHBOARD_BIN), "serve", "--config",
                          str(self.config), "--database", str(self.db), "--listen",
                          f"127.0.0.1:{self.port}"], self.ctx.cpus["proxy"], self.ctx.logdir,
                          env=env)
        return self.proc

    def after(self) -> dict[str, Any]:
        if self.db is None or not self.db.exists():
            return {"request_log_rows": None, "config_note": self.breaker_note}
        try:
            with sqlite3.connect(self.db) as conn:
                rows = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            return {"request_log_rows": rows, "config_note": self.breaker_note}
        except sqlite3.Error as e:
            return {"request_log_rows": None, "request_log_error": str(e),
                    "config_note": self.breaker_note}


class LiteLLM(Contender):
    name = "litellm"
    label = "LiteLLM proxy (1 worker, no DB)"
    slow_start = True
    peer = True

    def prepare(self) -> str | None:
        reason = ensure_litellm()
        if reason:
            return reason
        self.dir = self.ctx.workdir / "litellm"
        self.dir.mkdir(parents=True, exist_ok=True)
        lines = ["# generated by bench/run.py", "model_list:"]
        for mock, port in self.ctx.mock_ports.items():
            lines += [f"  - model_name: {self.model(mock)}", "    litellm_params:",
                      "      model: openai/bench-model",
                      f"      api_base: http://127.0.0.1:{port}/v1",
                      "      api_key: sk-upstream-bench"]
        lines += ["general_settings:", f"  master_key: {KEY}",
                  "litellm_settings:", "  telemetry: false", "  set_verbose: false", ""]
        self.config = self.dir / "config.yaml"
        self.config.write_text("\n".join(lines))
        return None

    def launch(self, tag: str) -> Proc:
        env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR",
                   PYTHONUNBUFFERED="1")
        env.pop("DATABASE_URL", None)
        self.proc = spawn(f"litellm-{tag}", [str(LITELLM_VENV / "bin" / "litellm"), "--config",
                          str(self.config), "--host", "127.0.0.1", "--port", str(self.port),
                          "--num_workers", "1"], self.ctx.cpus["proxy"], self.ctx.logdir,
                          env=env, cwd=self.dir)
        return self.proc


class Portkey(Contender):
    """The Portkey AI gateway (npm), one Node.js process, routed per request by its headers."""
    name = "portkey"
    label = "Portkey gateway (npm, 1 process)"
    slow_start = True
    peer = True
    stream_known_issue = ("on Node.js, @hono/node-server's Response keeps the upstream's immutable "
                          "headers and ResponseService.updateHeaders appends to them (TypeError: "
                          "immutable; Portkey-AI/gateway#1389 and #1550, open)")

    def prepare(self) -> str | None:
        reason = ensure_portkey()
        if reason:
            return reason
        if not binary_path("node"):
            return "node not found (Portkey runs on Node.js)"
        return None

    def launch(self, tag: str) -> Proc:
        self.proc = spawn(f"portkey-{tag}", [binary_path("node") or "node", str(PORTKEY_MAIN),
                          f"--port={self.port}", "--headless"], self.ctx.cpus["proxy"],
                          self.ctx.logdir, env=dict(os.environ, NODE_ENV="production"))
        return self.proc

    def headers(self, mock: str) -> list[str]:
        return ["x-portkey-provider: openai",
                f"x-portkey-custom-host: http://127.0.0.1:{self.ctx.mock_ports[mock]}/v1"]


# --------------------------------------------------------------------------------------------
# Load


class Context:
    def __init__(self, s: dict[str, Any], cpus: dict[str, set[int]], workdir: Path,
                 tools: dict[str, str | None]):
        self.s = s
        self.cpus = cpus
        self.workdir = workdir
        self.logdir = workdir / "logs"
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.tools = tools
        self.mock_ports: dict[str, int] = {}
        self.mocks: dict[str, Proc] = {}


def start_mocks(ctx: Context) -> None:
    for name, (chunks, interval) in ctx.s["mocks"].items():
        port = free_port()
        proc = spawn(f"mock-{name}", [str(RELEASE / "mock-upstream"), "--listen",
                     f"127.0.0.1:{port}", "--stream-chunks", str(chunks), "--chunk-interval-ms",
                     str(interval), "--content-bytes", str(ctx.s["content_bytes"]), "--threads",
                     "1"], ctx.cpus["mock"], ctx.logdir)
        wait_ready(proc, port, 30)
        ctx.mock_ports[name] = port
        ctx.mocks[name] = proc
    log(f"mocks up: {ctx.mock_ports}")


def wrk(ctx: Context, url: str, conc: int, seconds: float,
        headers: list[str] | None = None, body: str = BODY) -> dict[str, Any]:
    threads = max(1, min(len(ctx.cpus["load"]), conc))
    env = dict(os.environ, BENCH_BODY=body, BENCH_KEY=KEY, BENCH_HEADERS="\n".join(headers or []))
    argv = [str(ctx.tools["wrk"]), f"-t{threads}", f"-c{conc}", f"-d{max(1, round(seconds))}s",
            "--timeout", "10s", "-s", str(BENCH_DIR / "wrk-post.lua"), url]
    result = run(argv, timeout=seconds + 120, env=env)
    for line in result.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            data = json.loads(line[len("BENCHJSON "):])
            ok = data["requests"] - data["errors"]["status"]
            data["ok_requests"] = ok
            data["rps"] = ok / (data["duration_us"] / 1e6)
            return data
    raise RuntimeError(f"wrk printed no summary: {result.stdout[-400:]} {result.stderr[-400:]}")


def oha(ctx: Context, url: str, conc: int, seconds: float, rate: float | None,
        headers: list[str] | None = None) -> dict[str, Any]:
    argv = [str(ctx.tools["oha"]), "-z", f"{seconds}s", "-c", str(conc), "-w", "--no-tui",
            "--output-format", "json", "-m", "POST", "-H", "content-type: application/json",
            "-H", f"authorization: Bearer {KEY}", "-d", BODY, "-t", "10s", url]
    for h in headers or []:
        argv[-1:-1] = ["-H", h]
    if rate:
        argv[1:1] = ["-q", str(rate), "--latency-correction"]
    result = run(argv, timeout=seconds + 120)
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"oha output unreadable ({e}): {result.stdout[-300:]} {result.stderr[-300:]}")
    pct = data.get("latencyPercentiles", {})
    codes = data.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if str(k).startswith("2"))
    total = data.get("summary", {}).get("total", seconds) or seconds
    return {
        "requests": sum(codes.values()),
        "ok_requests": ok,
        "rps": ok / total,
        "status": codes,
        "errors": data.get("errorDistribution", {}),
        "latency_us": {k: (pct.get(src) or 0) * 1e6 for k, src in
                       (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99_9", "p99.9"))}
        | {"max": (data.get("summary", {}).get("slowest") or 0) * 1e6},
    }


def oha_count(ctx: Context, url: str, conc: int, requests: int) -> dict[str, Any]:
    """Exactly `requests` requests over `conc` connections (oha -n), as fast as they go."""
    argv = [str(ctx.tools["oha"]), "-n", str(requests), "-c", str(conc), "--no-tui",
            "--output-format", "json", "-m", "POST", "-H", "content-type: application/json",
            "-H", f"authorization: Bearer {KEY}", "-d", BODY, "-t", "60s", url]
    result = run(argv, timeout=3600)
    data = json.loads(result.stdout)
    codes = data.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if str(k).startswith("2"))
    return {"requests": sum(codes.values()), "ok_requests": ok, "status": codes}


# Request paths `profile callgrind` can measure (BENCH_PROFILE_PATH): client path, body, and
# whether it streams. The alias `bench` is the OpenAI-shaped mock (passthrough for chat,
# translated for Messages and Responses clients); `bench-anthropic` is the same mock's
# Anthropic Messages API (translated for a chat client).
PROFILE_MESSAGES = json.loads(BODY)["messages"]
PROFILE_PATHS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": (CHAT_PATH, json.loads(BODY)),
    "chat-stream": (CHAT_PATH, json.loads(BODY) | {"stream": True}),
    "chat-to-anthropic": (CHAT_PATH, json.loads(BODY) | {"model": "bench-anthropic"}),
    "anthropic-to-chat": ("/v1/messages", {
        "model": "bench", "max_tokens": 256, "system": PROFILE_MESSAGES[0]["content"],
        "messages": [PROFILE_MESSAGES[1]], "temperature": 0.7}),
    "responses-to-chat": ("/v1/responses", {
        "model": "bench", "instructions": PROFILE_MESSAGES[0]["content"],
        "input": PROFILE_MESSAGES[1]["content"], "max_output_tokens": 256, "temperature": 0.7}),
}


def py_count(port: int, path: str, body: str, conc: int, requests: int) -> dict[str, Any]:
    """Exactly `requests` POSTs over `conc` keep-alive connections (one thread each), every
    answer read to its end (streams included). For profiles: under valgrind the server is
    the bottleneck, so a Python client keeps up, and it needs no oha build."""
    import http.client
    lock = threading.Lock()
    left = [requests]
    codes: dict[str, int] = {}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            try:
                conn.request("POST", path, body=body, headers={
                    "content-type": "application/json", "authorization": f"Bearer {KEY}",
                    "x-api-key": KEY, "anthropic-version": "2023-06-01"})
                resp = conn.getresponse()
                resp.read()
                code = str(resp.status)
            except (OSError, http.client.HTTPException) as e:
                code = type(e).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            with lock:
                codes[code] = codes.get(code, 0) + 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    return {"requests": sum(codes.values()), "ok_requests": ok, "status": codes}


def measured(pids_fn: Callable[[], list[int]], fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    pids = pids_fn()
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    data = fn()
    cpu1, t1 = cpu_seconds(pids_fn()), time.monotonic()
    data["server_cpu_s"] = cpu1 - cpu0
    data["server_cpu_util"] = (cpu1 - cpu0) / max(t1 - t0, 1e-9)
    ok = data.get("ok_requests") or data.get("completed") or 0
    data["cpu_s_per_1k"] = (cpu1 - cpu0) / ok * 1000 if ok else None
    return data


def saturate(ctx: Context, c: Contender, conc: int) -> dict[str, Any]:
    url, hs = c.url("fast"), c.headers("fast")
    if ctx.tools.get("wrk"):
        wrk(ctx, url, conc, ctx.s["warm_s"], hs)
        settle(c.server_pids)
        data = measured(c.server_pids, lambda: wrk(ctx, url, conc, ctx.s["sat_s"], hs))
        data["tool"] = "wrk"
    else:
        oha(ctx, url, conc, ctx.s["warm_s"], None, hs)
        settle(c.server_pids)
        data = measured(c.server_pids, lambda: oha(ctx, url, conc, ctx.s["sat_s"], None, hs))
        data["tool"] = "oha"
    settle(c.server_pids)
    return data


def fixed_rate(ctx: Context, c: Contender, conc: int, rate: int) -> dict[str, Any]:
    url, hs = c.url("fast"), c.headers("fast")
    if ctx.tools.get("oha"):
        data = measured(c.server_pids, lambda: oha(ctx, url, conc, ctx.s["lat_s"], rate, hs))
        data["tool"] = "oha (fixed rate, latency corrected)"
    else:
        data = measured(c.server_pids, lambda: wrk(ctx, url, conc, ctx.s["lat_s"], hs))
        data["tool"] = "wrk (closed loop: no fixed rate available)"
    data["rate"] = rate
    settle(c.server_pids)
    return data


def probe(ctx: Context, c: Contender, mock: str, streams: int, seconds: float | None,
          rss_pids: Callable[[], list[int]] | None = None) -> dict[str, Any]:
    argv = [str(RELEASE / "stream-probe"), "--url", c.url(mock), "--model", c.model(mock),
            "--streams", str(streams), "--api-key", KEY, "--timeout-s", "120"]
    for h in c.headers(mock):
        argv += ["--header", h]
    if seconds is None:
        argv += ["--rounds", "1", "--ramp-ms", "1000"]
    else:
        argv += ["--duration-s", str(seconds)]
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        assert rss_pids is not None
        while not stop.is_set():
            samples.append(rss_kb(rss_pids()))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True) if rss_pids else None
    pids = c.server_pids(mock)
    cpu0 = cpu_seconds(pids)
    if sampler:
        sampler.start()
    try:
        result = run(argv, timeout=(seconds or 0) + 300)
    finally:
        stop.set()
        if sampler:
            sampler.join()
    cpu1 = cpu_seconds(c.server_pids(mock))
    if result.returncode != 0:
        raise RuntimeError(f"stream-probe failed: {result.stderr.strip()[-400:]}")
    data = json.loads(result.stdout)
    data["server_cpu_s"] = cpu1 - cpu0
    if samples:
        data["rss_peak_kb"] = max(samples)
    settle(lambda: c.server_pids(mock))
    return data


# Switchboard's own rows at c=64 (saturation, wrk): the translated paths, and the request path
# with a /metrics scraper or a live-tail client attached.
TRANSLATED = ("chat-to-anthropic", "anthropic-to-chat", "responses-to-chat")


def switchboard_extras(ctx: Context, c: Contender) -> dict[str, Any]:
    out: dict[str, Any] = {}
    secs = ctx.s["sat_s"]

    def point(key: str, path: str, body: str, side: Callable[[threading.Event], None] | None = None):
        url = f"http://127.0.0.1:{c.port}{path}"

        def go() -> dict[str, Any]:
            wrk(ctx, url, 64, ctx.s["warm_s"], body=body)
            settle(c.server_pids)
            stop = threading.Event()
            helper = threading.Thread(target=side, args=(stop,), daemon=True) if side else None
            if helper:
                helper.start()
                time.sleep(0.2)
            try:
                data = measured(c.server_pids, lambda: wrk(ctx, url, 64, secs, body=body))
            finally:
                stop.set()
                if helper:
                    helper.join(5)
            data["tool"] = "wrk"
            settle(c.server_pids)
            return data
        guarded(out, key, go)
        r = out[key]
        if "rps" in r:
            log(f"  {key} c=64: {r['rps']:.0f} req/s, cpu {r['cpu_s_per_1k'] or 0:.3f} s/1k")

    for name in TRANSLATED:
        path, body = PROFILE_PATHS[name]
        point(name, path, json.dumps(body, separators=(",", ":")))

    def scrape(stop: threading.Event) -> None:
        import urllib.request
        scrapes = 0
        while not stop.is_set():
            with urllib.request.urlopen(f"http://127.0.0.1:{c.port}/metrics", timeout=5) as r:
                r.read()
            scrapes += 1
            stop.wait(1.0)
        out["metrics_scrapes"] = scrapes

    def tail(stop: threading.Event) -> None:
        # The dashboard's feed needs the admin secret the gateway keeps beside its database.
        assert isinstance(c, Switchboard) and c.db is not None
        secret = (c.db.parent / "admin.secret").read_text().strip()
        got = 0
        head = b""
        with socket.create_connection(("127.0.0.1", c.port), timeout=5) as sock:
            sock.sendall(f"GET /admin/events HTTP/1.1\r\nHost: 127.0.0.1:{c.port}\r\n"
                         f"Authorization: Bearer {secret}\r\n"
                         "Accept: text/event-stream\r\n\r\n".encode())
            sock.settimeout(0.2)
            while not stop.is_set():
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                if not head:
                    head = chunk.split(b"\r\n", 1)[0]
                got += chunk.count(b"event: request")
        out["live_tail_status"] = head.decode(errors="replace")
        out["live_tail_events"] = got

    point("chat_plain", CHAT_PATH, BODY)
    point("metrics_scraped", CHAT_PATH, BODY, scrape)
    point("live_tail", CHAT_PATH, BODY, tail)
    # A tail that read nothing measured a closed connection, not the dashboard's cost.
    r = out.get("live_tail")
    if isinstance(r, dict) and "rps" in r and not out.get("live_tail_events"):
        r["failed"] = True
        r["unreported"] = {k: r.pop(k) for k in MEASURED_KEYS if k in r}
        r["error"] = (f"FAILED: the live tail read no request events (answer: "
                      f"{out.get('live_tail_status') or 'none'}); no throughput reported")
        log(f"  live_tail: {r['error']}")
    return out


def guarded(results: dict[str, Any], key: str, fn: Callable[[], Any]) -> None:
    try:
        results[key] = fn()
    except Exception as e:  # noqa: BLE001 - one failed scenario must not end the run
        results[key] = {"error": str(e)[-1500:]}
        log(f"  {key}: FAILED: {str(e)[-300:]}")
        return
    if isinstance(results[key], dict) and judge(results[key]):
        log(f"  {key}: {results[key]['error']}")


# A scenario with more failed requests than this share is failed: its throughput and latency
# would be figures of error answers. None may fail (issue 20): every answer must be a 2xx.
ERROR_BUDGET = 0.0

# What a failed scenario does not report (kept under `unreported` in the JSON).
MEASURED_KEYS = ("rps", "latency_us", "ttfb_us", "gap_us", "rss_peak_kb", "cpu_s_per_1k")


def judge(x: dict[str, Any]) -> bool:
    """Counts a scenario's non-2xx answers and transport errors (requests) or failed streams;
    above ERROR_BUDGET it is marked failed and its figures are withdrawn. True when failed."""
    if "requests" in x:
        failed = failures(x)
        total = failed + x.get("ok_requests", 0)
        what = f"requests failed; status codes {x.get('status') or x.get('errors')}"
    elif "completed" in x:
        failed = x.get("errors", 0)
        total = failed + x.get("completed", 0)
        what = f"streams failed, e.g. {x.get('error_samples', [])[:2]}"
    else:
        return False
    rate = failed / total if total else 1.0
    x["failed_requests"] = failed
    x["error_rate"] = rate
    x["failed"] = total == 0 or failed > 0 or rate > ERROR_BUDGET
    if x["failed"]:
        x["unreported"] = {k: x.pop(k) for k in MEASURED_KEYS if k in x}
        x["error"] = ("FAILED: no request completed in the measurement window" if total == 0
                      else f"FAILED: {failed:,} of {total:,} {what} ({rate:.2%}; every answer "
                      "must be a 2xx)") + "; no throughput or latency reported"
    return x["failed"]


def run_contender(ctx: Context, c: Contender) -> dict[str, Any]:
    res: dict[str, Any] = {"name": c.name, "label": c.label, "status": "ok"}
    log(f"== {c.label}")
    reason = c.prepare()
    if reason:
        log(f"  skipped: {reason}")
        return res | {"status": "skipped", "reason": reason}
    wait_quiet(ctx)
    noise = Noise()
    try:
        res = measure_contender(ctx, c, res)
    finally:
        res["noise"] = noise.read()
    share = res["noise"]["foreign_share"]
    log(f"  other processes used {res['noise']['foreign_cpu_s']:.1f} CPU-s "
        f"({share * 100:.0f}% of the machine) meanwhile")
    return res


def wait_quiet(ctx: "Context") -> None:
    """With BENCH_WAIT_QUIET=N, waits up to N s for other work on the machine to stop."""
    limit = env_num("BENCH_WAIT_QUIET", 0)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        n = Noise()
        time.sleep(1.0)
        if n.read()["foreign_share"] < 0.05:
            return
        log("  machine busy with other work; waiting (BENCH_WAIT_QUIET)")


def measure_contender(ctx: "Context", c: "Contender", res: dict[str, Any]) -> dict[str, Any]:
    s = ctx.s

    # Start-up time: fresh starts (fresh database), the last one stays up for the load.
    runs = s["slow_ready_runs"] if c.slow_start else s["ready_runs"]
    ready: list[float] = []
    timeout = 240 if c.slow_start else 30
    try:
        for i in range(runs):
            proc = c.launch(f"r{i}")
            ready.append(wait_ready(proc, c.port, timeout, c.headers("fast")))
            if c.name == "direct":
                time.sleep(0.2)
                res["idle_rss_kb_fresh_mock"] = rss_kb(proc.pids())
                proc.stop()
            elif i < runs - 1:
                proc.stop()
    except Exception as e:  # noqa: BLE001
        if c.proc:
            c.proc.stop()
        log(f"  failed to start: {e}")
        return res | {"status": "failed", "reason": f"did not start: {str(e)[-800:]}"}
    res["ready_ms"] = {"runs": len(ready), "median": statistics.median(ready), "min": min(ready),
                       "max": max(ready), "all": [round(r, 2) for r in ready]}
    log(f"  ready in {res['ready_ms']['median']:.1f} ms (median of {len(ready)})")
    time.sleep(1.0)
    res["idle_rss_kb"] = rss_kb(c.server_pids())
    log(f"  idle RSS {res['idle_rss_kb'] / 1024:.1f} MiB")

    res["saturation"] = {}

    def saturation_point(conc: int) -> None:
        guarded(res["saturation"], str(conc), lambda: saturate(ctx, c, conc))
        r = res["saturation"][str(conc)]
        if "rps" in r:
            log(f"  saturation c={conc}: {r['rps']:.0f} req/s, p50 {r['latency_us']['p50']:.0f} us, "
                f"cpu {r['cpu_s_per_1k'] or 0:.3f} s/1k")

    # The fixed-rate points need the saturation rate at their concurrency; the overload points
    # (higher concurrency) run after them so a slow proxy's backlog cannot spill into them.
    lat_conc = {conc for conc, _ in s["lat_points"]}
    for conc in s["sat_concurrency"]:
        if conc in lat_conc:
            saturation_point(conc)

    res["latency"] = {}
    for conc, rate in s["lat_points"]:
        sat = res["saturation"].get(str(conc), {}).get("rps")
        eff = int(min(rate, 0.5 * sat)) if sat else rate
        eff = max(eff, 1)
        guarded(res["latency"], str(conc), lambda: fixed_rate(ctx, c, conc, eff))
        r = res["latency"][str(conc)]
        if "latency_us" in r:
            lat = r["latency_us"]
            log(f"  fixed rate c={conc} @ {eff}/s: p50 {lat['p50']:.0f} us, p99 {lat['p99']:.0f} us, "
                f"p99.9 {lat['p99_9']:.0f} us")
    for conc in s["sat_concurrency"]:
        if conc not in lat_conc:
            saturation_point(conc)

    if c.name == "switchboard" and ctx.tools.get("wrk"):
        res["extra"] = switchboard_extras(ctx, c)

    if c.peer:
        broken = peer_stream_broken(ctx, c)
        if broken:
            log(f"  streams skipped: {broken}")
            res["streams_skipped"] = broken
            return finish_contender(c, res)

    res["streams"] = {}
    guarded(res["streams"], "ttfb_c1", lambda: probe(ctx, c, "short", 1, s["stream_s"]))
    for conc in s["stream_concurrency"]:
        guarded(res["streams"], f"paced_c{conc}", lambda: probe(ctx, c, "fast", conc, s["stream_s"]))
    guarded(res["streams"], "paced_c1", lambda: probe(ctx, c, "fast", 1, s["stream_s"]))
    for key, r in res["streams"].items():
        if "ttfb_us" in r:
            log(f"  streams {key}: {r['completed']} ok / {r['errors']} failed, ttfb p50 "
                f"{r['ttfb_us'].get('p50', 0)} us, gap p99 {r['gap_us'].get('p99', 0)} us, "
                f"max {r['gap_us'].get('max', 0)} us")
    many = s["many_streams"]
    if c.slow_start and s["mode"] == "quick":
        many = min(many, 200)  # LiteLLM needs ~1 min for 1,000 streams; keep the smoke run short
    guarded(res, "many_streams", lambda: probe(ctx, c, "slow", many, None,
                                               rss_pids=lambda: c.server_pids("slow")))
    r = res["many_streams"]
    if "completed" in r:
        log(f"  {many} streams: {r['completed']} ok / {r['errors']} failed, peak RSS "
            f"{r.get('rss_peak_kb', 0) / 1024:.1f} MiB")
    return finish_contender(c, res)


def peer_stream_broken(ctx: "Context", c: "Contender") -> str | None:
    """One stream through a peer: the reason its stream scenarios are skipped, or None."""
    try:
        x = probe(ctx, c, "short", 1, None)
    except Exception as e:  # noqa: BLE001
        return f"the stream probe failed to run: {str(e)[-300:]}"
    if x.get("completed"):
        return None
    sample = (x.get("error_samples") or ["no answer"])[0]
    known = f"; {c.stream_known_issue}" if c.stream_known_issue else ""
    return f"{c.label} answered a single plain stream with {sample[:160]}{known}"


def finish_contender(c: "Contender", res: dict[str, Any]) -> dict[str, Any]:
    settle(c.server_pids)
    time.sleep(1.0)
    res["rss_after_load_kb"] = rss_kb(c.server_pids())
    if c.name != "direct" and c.proc:
        c.proc.stop()
        if c.proc.popen.returncode not in (0, -signal.SIGTERM):
            res["exit_code"] = c.proc.popen.returncode
    res |= c.after()
    return res


# --------------------------------------------------------------------------------------------
# Report


def get(d: Any, *path: Any) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def us(v: float | None) -> str:
    if v is None:
        return "n/a"
    if abs(v) >= 10000:
        return f"{v / 1000:.1f} ms"
    if abs(v) >= 1000:
        return f"{v / 1000:.2f} ms"
    return f"{v:.0f} µs"


def signed_us(v: float | None) -> str:
    if v is None:
        return "n/a"
    return ("+" if v >= 0 else "−") + us(abs(v))


def mib(kb: float | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f} MiB"


def num(v: float | None, fmt: str = "{:,.0f}") -> str:
    return "n/a" if v is None else fmt.format(v)


def ratio(a: float | None, b: float | None, fmt: str = "{:.2f}×") -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    if fmt == "{:.2f}×" and 0 < abs(a / b) < 0.1:
        return f"{a / b:.4f}×"
    return fmt.format(a / b)


def max_rps(res: dict[str, Any]) -> float | None:
    values = [r.get("rps") for r in (res.get("saturation") or {}).values() if isinstance(r, dict)]
    values = [v for v in values if v]
    return max(values) if values else None


def derive(results: dict[str, Any]) -> dict[str, Any]:
    """Figures relative to direct and nginx, per contender."""
    by = {r["name"]: r for r in results["contenders"]}
    direct = by.get("direct", {})
    out: dict[str, Any] = {}
    for name, r in by.items():
        if r.get("status") != "ok":
            continue
        d: dict[str, Any] = {"max_rps": max_rps(r)}
        for conc in (str(c) for c, _ in results["settings"]["lat_points"]):
            for p in ("p50", "p99", "p99_9"):
                a = get(r, "latency", conc, "latency_us", p)
                b = get(direct, "latency", conc, "latency_us", p)
                d[f"added_c{conc}_{p}"] = None if a is None or b is None else a - b
        for key in ("ttfb_c1", "paced_c1", "paced_c64"):
            for p in ("p50", "p99"):
                a = get(r, "streams", key, "ttfb_us", p)
                b = get(direct, "streams", key, "ttfb_us", p)
                d[f"added_ttfb_{key}_{p}"] = None if a is None or b is None else a - b
            for p in ("p99", "p99_9", "max"):
                a = get(r, "streams", key, "gap_us", p)
                b = get(direct, "streams", key, "gap_us", p)
                d[f"added_gap_{key}_{p}"] = None if a is None or b is None else a - b
        d["cpu_s_per_1k_c64"] = get(r, "saturation", "64", "cpu_s_per_1k")
        extra = r.get("extra") or {}
        plain_cpu = get(extra, "chat_plain", "cpu_s_per_1k")
        plain_rps = get(extra, "chat_plain", "rps")
        for t in TRANSLATED:
            cpu = get(extra, t, "cpu_s_per_1k")
            d[f"translated_{t}"] = cpu / plain_cpu if cpu and plain_cpu else None
        cpu = get(extra, "metrics_scraped", "cpu_s_per_1k")
        d["metrics_cost"] = cpu / plain_cpu - 1 if cpu and plain_cpu else None
        rps = get(extra, "live_tail", "rps")
        d["live_tail_cost"] = 1 - rps / plain_rps if rps and plain_rps else None
        out[name] = d
    return out


def targets(results: dict[str, Any], derived: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    sb = derived.get("switchboard")
    ng = derived.get("nginx")
    ll = derived.get("litellm")
    by = {r["name"]: r for r in results["contenders"]}
    sbr = by.get("switchboard", {})

    shares = [get(by.get(n, {}), "noise", "foreign_share") for n in ("direct", "nginx", "switchboard")]
    # Under BENCH_RT other work only gets the CPU time the benchmark leaves idle.
    noisy = any(v is not None and v > 0.10 for v in shares) and not results.get("realtime")

    def row(name: str, threshold: str, measured: str, ok: bool | None, why: str = "",
            timing: bool = True) -> dict:
        result = "n/a" if ok is None else ("met" if ok else "MISSED")
        if ok is not None and noisy and timing:
            result += " (noisy run)"
        return {"target": name, "threshold": threshold, "measured": measured,
                "result": result, "note": why}

    def worst(*vals: float | None) -> float | None:
        vals2 = [v for v in vals if v is not None]
        return max(vals2) if vals2 else None

    floor: list[dict] = []
    aim: list[dict] = []
    if not sb:
        reason = by.get("switchboard", {}).get("reason", "not run")
        return [row("all", "-", f"Switchboard not measured: {reason}", None)], []
    nginx_why = f"nginx {by.get('nginx', {}).get('reason', 'not run')}"

    def vs_nginx(key: str) -> tuple[float | None, float | None, float | None]:
        a, b = sb.get(key), (ng or {}).get(key)
        return a, b, (None if a is None or b is None else a - b)

    # Issue 20's targets: at nginx's cost.
    a, b = sb.get("max_rps"), (ng or {}).get("max_rps")
    floor.append(row("Max throughput vs nginx (request log on, every answer 2xx)", "≥ 0.80×",
                     f"{num(a)} vs {num(b)} req/s = {ratio(a, b)}" if ng else "n/a",
                     None if a is None or not b else a >= 0.8 * b, "" if ng else nginx_why))
    a, b = sb.get("cpu_s_per_1k_c64"), (ng or {}).get("cpu_s_per_1k_c64")
    floor.append(row("CPU per request vs nginx (c=64, saturation)", "≤ 1.50×",
                     f"{num(a, '{:.4f}')} vs {num(b, '{:.4f}')} CPU-s/1k req = {ratio(a, b)}"
                     if ng else "n/a", None if a is None or not b else a <= 1.5 * b,
                     "" if ng else nginx_why, timing=False))
    for p, limit in (("p50", 20), ("p99", 100)):
        a, b, d = vs_nginx(f"added_c1_{p}")
        floor.append(row(f"Added latency {p} at c=1 (fixed rate) vs nginx's", f"≤ +{limit} µs",
                         f"{signed_us(a)} vs nginx {signed_us(b)}: {signed_us(d)}",
                         None if d is None else d <= limit, "" if ng else nginx_why))
    g1, g64 = sb.get("added_gap_paced_c1_p99"), sb.get("added_gap_paced_c64_p99")
    g = worst(g1, g64)
    floor.append(row("Stream: added inter-chunk gap p99 at 1 and 64 streams", "< 50 µs",
                     f"1 stream {signed_us(g1)}, 64 streams {signed_us(g64)}",
                     None if g is None or g1 is None or g64 is None else g < 50))
    a, b, d = vs_nginx("added_ttfb_ttfb_c1_p50")
    floor.append(row("Stream: time to first byte (added, p50) vs nginx's", "≤ +50 µs",
                     f"{signed_us(a)} vs nginx {signed_us(b)}: {signed_us(d)}",
                     None if d is None else d <= 50, "" if ng else nginx_why))
    for name in TRANSLATED:
        r = sb.get(f"translated_{name}")
        floor.append(row(f"Translated path {name}: CPU per request vs passthrough (c=64)",
                         "≤ 2.00×", num(r, "{:.2f}×"), None if r is None else r <= 2.0,
                         timing=False))
    many = results["settings"]["many_streams"]
    peak = get(sbr, "many_streams", "rss_peak_kb")
    n_ok = get(sbr, "many_streams", "completed")
    floor.append(row(f"Memory with {many} open streams", "< 60 MB",
                     f"{mib(peak)} ({n_ok} streams completed)",
                     None if peak is None or many < 1000 else peak * 1024 < 60e6, timing=False))
    idle = sbr.get("idle_rss_kb")
    floor.append(row("Idle resident memory", "< 15 MB", mib(idle),
                     None if idle is None else idle * 1024 < 15e6, timing=False))
    v = sb.get("live_tail_cost")
    floor.append(row("Live tail (/admin/events) connected at c=64: throughput lost", "< 5%",
                     num(None if v is None else v * 100, "{:+.1f}%"), None if v is None else v < 0.05))
    v = sb.get("metrics_cost")
    floor.append(row("/metrics scraped every second at c=64: CPU per request added", "< 2%",
                     num(None if v is None else v * 100, "{:+.1f}%"), None if v is None else v < 0.02,
                     timing=False))

    # Issue 8's floor, still shown.
    rates = {str(c): get(sbr, "latency", str(c), "rate") for c, _ in results["settings"]["lat_points"]}
    p50 = worst(sb.get("added_c1_p50"), sb.get("added_c64_p50"))
    p99 = worst(sb.get("added_c1_p99"), sb.get("added_c64_p99"))

    def detail(p: str) -> str:
        return ", ".join(f"c={c} @{rates[c]}/s: {signed_us(sb.get(f'added_c{c}_{p}'))}"
                         for c in rates)
    aim.append(row("Added latency p50 at steady load (both fixed-rate points)", "< 0.2 ms",
                   detail("p50"), None if p50 is None else p50 < 200))
    aim.append(row("Added latency p99 at steady load (both fixed-rate points)", "< 1 ms",
                   detail("p99"), None if p99 is None else p99 < 1000))
    ready = get(sbr, "ready_ms", "median")
    aim.append(row("Ready to serve after start", "< 100 ms",
                   f"{ready:.1f} ms (median of {get(sbr, 'ready_ms', 'runs')})" if ready else "n/a",
                   None if ready is None else ready < 100))
    for peer, label in (("portkey", "Portkey gateway"), ("litellm", "LiteLLM")):
        other = derived.get(peer)
        if other:
            a, b = sb.get("max_rps"), other.get("max_rps")
            aim.append(row(f"Throughput ≥ 10× {label}", "≥ 10×",
                           f"{num(a)} vs {num(b)} req/s = {ratio(a, b, '{:.0f}×')}",
                           None if a is None or not b else a >= 10 * b))
        else:
            aim.append(row(f"Throughput ≥ 10× {label}", "≥ 10×", "n/a", None,
                           f"{label}: {by.get(peer, {}).get('reason', 'not run')}"))
    return floor, aim


def failures(x: dict[str, Any]) -> int:
    """Non-2xx answers plus transport errors, for wrk or oha output."""
    failed = x.get("requests", 0) - x.get("ok_requests", 0)
    errors = x.get("errors") or {}
    if "status" in errors:  # wrk: status errors are already in requests - ok_requests
        failed += sum(v for k, v in errors.items() if k != "status")
    else:
        failed += sum(v for k, v in errors.items() if "deadline" not in str(k))
    return failed


def failed_scenarios(results: dict[str, Any]) -> list[str]:
    """Every scenario `judge` failed, as `contender: group key: reason`."""
    out = []
    for r in results["contenders"]:
        if r.get("status") != "ok":
            continue
        scenarios = [(g, k, x) for g in ("saturation", "latency", "streams", "extra")
                     for k, x in (r.get(g) or {}).items()]
        scenarios.append(("streams", "many_streams", r.get("many_streams") or {}))
        for group, key, x in scenarios:
            if isinstance(x, dict) and x.get("failed"):
                out.append(f"{r['label']}: {group} {key}: {x['error']}")
    return out


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    s = results["settings"]
    derived = results["derived"]
    by = {r["name"]: r for r in results["contenders"]}
    L: list[str] = []
    L.append(f"# Switchboard benchmark — {results['finished_at']} ({s['mode']} run, "
             f"{results['duration_s'] / 60:.1f} min)")
    L.append("")
    L.append(f"Machine: {m['cpu_model']} ({m['hypervisor'] or 'bare metal'}), {m['cpus_online']} CPUs, "
             f"{m['memory_gib']} GiB, {m['os']}, kernel {m['kernel']}. Commit {m['git']}; "
             f"switchboard binary built {m['switchboard_binary_built']}.")
    L.append("")
    L.append("Versions: " + "; ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".")
    L.append("")
    L.append(f"Pinning: {results['pinning_note']}"
             + (f" All benchmark processes run at nice {results['nice']}." if results.get("nice") else ""))
    for note in results.get("notes") or []:
        L.append("")
        L.append(f"Note: {note}")
    L.append("")
    L.append(f"Mock upstream: non-streamed answer with a {s['content_bytes']}-byte completion "
             f"(~{results.get('response_bytes', '?')} bytes on the wire); streams of "
             + ", ".join(f"{k}: {c} chunks {i:g} ms apart" for k, (c, i) in s["mocks"].items())
             + ", each with role, finish and usage chunks and `[DONE]`.")
    L.append("")
    warnings = results.get("failed_scenarios") or failed_scenarios(results)
    if warnings:
        L.append("## ⚠ Failed scenarios")
        L.append("")
        L.append("Some of these scenarios' answers were not 2xx (or had transport errors): they are "
                 "marked FAILED below, report no throughput or latency, and the run exits non-zero.")
        L.append("")
        for w in warnings:
            L.append(f"- {w}")
        L.append("")
    L.append("## Targets (issue #20: at nginx's cost) — Switchboard")
    L.append("")
    L.append("| Target | Threshold | Measured | Result |")
    L.append("|---|---|---|---|")
    for t in results["targets"]:
        L.append(f"| {t['target']} | {t['threshold']} | {t['measured']}"
                 f"{' — ' + t['note'] if t['note'] else ''} | **{t['result']}** |")
    L.append("")
    L.append("### Earlier floor (issue #8) and peers")
    L.append("")
    L.append("| Aim | Threshold | Measured | Result |")
    L.append("|---|---|---|---|")
    for t in results["aims"]:
        L.append(f"| {t['target']} | {t['threshold']} | {t['measured']} | {t['result']} |")
    L.append("")
    L.append("## Headline: ratios against direct and nginx")
    L.append("")
    L.append("| Contender | Max req/s | vs direct | vs nginx | CPU-s / 1k req (c=64) | vs nginx | "
             "Added p50 / p99 / p99.9 (c=1, fixed rate) | Added TTFB p50 (stream) | "
             "Largest gap added (200×2 ms stream) | Idle RSS | RSS under N streams (N) | Ready |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    dn, nn = derived.get("direct", {}), derived.get("nginx", {})
    for r in results["contenders"]:
        name = r["name"]
        if r.get("status") != "ok":
            L.append(f"| {r['label']} | {r['status']}: {r.get('reason', '')[:200]} ||||||||||| ")
            continue
        d = derived.get(name, {})
        added = " / ".join(signed_us(d.get(f"added_c1_{p}")) for p in ("p50", "p99", "p99_9"))
        if name == "direct":
            added = "— (floor)"
        L.append(f"| {r['label']} | {num(d.get('max_rps'))} | {ratio(d.get('max_rps'), dn.get('max_rps'))} | "
                 f"{ratio(d.get('max_rps'), nn.get('max_rps'))} | {num(d.get('cpu_s_per_1k_c64'), '{:.3f}')} | "
                 f"{ratio(d.get('cpu_s_per_1k_c64'), nn.get('cpu_s_per_1k_c64'))} | {added} | "
                 f"{'—' if name == 'direct' else signed_us(d.get('added_ttfb_ttfb_c1_p50'))} | "
                 f"{'—' if name == 'direct' else signed_us(d.get('added_gap_paced_c1_max'))} | "
                 f"{mib(r.get('idle_rss_kb'))} | {mib(get(r, 'many_streams', 'rss_peak_kb'))} "
                 f"({get(r, 'many_streams', 'streams') or 'n/a'}) | "
                 f"{num(get(r, 'ready_ms', 'median'), '{:.1f} ms')} |")
    L.append("")
    L.append("`direct` CPU and memory are the mock's own (the floor); for proxies they are the proxy "
             "process tree's only. Max req/s is the best of concurrency 1, 64 and 512. \"Added\" is "
             "the contender's figure minus direct's in the same scenario: on a machine where the proxy "
             "needs its own CPU, it includes four cross-CPU wake-ups per request that direct does not "
             "pay, so compare proxies with each other (nginx's row) as well as with the floor. "
             "Largest gap added: the longest pause between two events of a 200-chunk stream (2 ms "
             "apart), one stream at a time, minus direct's.")
    L.append("")
    L.append("## Latency at a fixed request rate (below saturation)")
    L.append("")
    L.append("| Contender | Connections | Rate req/s | p50 | p99 | p99.9 | Added p50 | Added p99 | "
             "Added p99.9 | CPU-s / 1k req | Failed |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results["contenders"]:
        if r.get("status") != "ok":
            continue
        d = derived.get(r["name"], {})
        for conc, x in (r.get("latency") or {}).items():
            if "latency_us" not in x:
                L.append(f"| {r['label']} | {conc} | error: {x.get('error', '')[:120]} |||||||||")
                continue
            lat = x["latency_us"]
            failed = failures(x)
            L.append(f"| {r['label']} | {conc} | {x['rate']} | {us(lat['p50'])} | {us(lat['p99'])} | "
                     f"{us(lat['p99_9'])} | " + " | ".join(
                         "—" if r["name"] == "direct" else signed_us(d.get(f"added_c{conc}_{p}"))
                         for p in ("p50", "p99", "p99_9"))
                     + f" | {num(x.get('cpu_s_per_1k'), '{:.3f}')} | {failed} |")
    L.append("")
    L.append(f"Tool: {get(by.get('direct', {}), 'latency', '1', 'tool') or 'n/a'}; rate capped at half "
             "the contender's own saturation rate at the same concurrency (so LiteLLM runs at a lower "
             "rate than the others; its added latency is still against direct at the standard rate).")
    L.append("")
    L.append("## Throughput at saturation (wrk, closed loop)")
    L.append("")
    L.append("| Contender | Connections | req/s | p50 | p99 | p99.9 | CPU-s / 1k req | proxy CPU use | "
             "Errors (status/timeout/other) |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in results["contenders"]:
        if r.get("status") != "ok":
            continue
        for conc, x in (r.get("saturation") or {}).items():
            if "rps" not in x:
                L.append(f"| {r['label']} | {conc} | error: {x.get('error', '')[:120]} |||||||")
                continue
            lat = x["latency_us"]
            e = x.get("errors") or {}
            if isinstance(e, dict) and "status" in e:
                errs = f"{e['status']}/{e['timeout']}/{e['connect'] + e['read'] + e['write']}"
            else:
                errs = str(x["requests"] - x["ok_requests"])
            rps = num(x["rps"]) + (" (none completed)" if not x.get("ok_requests") else "")
            L.append(f"| {r['label']} | {conc} | {rps} | {us(lat['p50'])} | {us(lat['p99'])} | "
                     f"{us(lat['p99_9'])} | {num(x.get('cpu_s_per_1k'), '{:.3f}')} | "
                     f"{num(x.get('server_cpu_util', 0) * 100, '{:.0f}%')} | {errs} |")
    L.append("")
    sbx = next((r.get("extra") for r in results["contenders"] if r.get("name") == "switchboard"), None)
    if sbx:
        L.append("## Switchboard: translated paths, /metrics and the live tail (c=64, wrk)")
        L.append("")
        L.append("| Scenario | req/s | CPU-s / 1k req | vs plain chat | Errors (status/timeout/other) |")
        L.append("|---|---|---|---|---|")
        plain = get(sbx, "chat_plain", "cpu_s_per_1k")
        names = {"chat-to-anthropic": "OpenAI chat client → Anthropic backend (translated)",
                 "anthropic-to-chat": "Anthropic Messages client → OpenAI chat backend (translated)",
                 "responses-to-chat": "Responses client → OpenAI chat backend (translated)",
                 "chat_plain": "chat passthrough (reference for this table)",
                 "metrics_scraped": f"chat, /metrics scraped every second ({sbx.get('metrics_scrapes', '?')} scrapes)",
                 "live_tail": f"chat, live tail connected ({sbx.get('live_tail_events', '?')} events read)"}
        for key, label in names.items():
            x = sbx.get(key)
            if not isinstance(x, dict):
                continue
            if x.get("failed") or "error" in x and "rps" not in x:
                L.append(f"| {label} | {x.get('error', 'failed')} | | | |")
                continue
            e = x.get("errors") or {}
            L.append(f"| {label} | {num(x.get('rps'))} | {num(x.get('cpu_s_per_1k'), '{:.4f}')} | "
                     f"{ratio(x.get('cpu_s_per_1k'), plain)} | {e.get('status', 0)}/{e.get('timeout', 0)}/"
                     f"{e.get('connect', 0) + e.get('read', 0) + e.get('write', 0)} |")
        L.append("")
    L.append("## Streaming")
    L.append("")
    L.append("`ttfb_c1`: short streams one at a time (time to first SSE event). `paced_cN`: N concurrent "
             "streams of the `fast` mock; gaps are between consecutive SSE events at the client. "
             "Added = contender − direct for the same scenario.")
    L.append("")
    L.append("| Contender | Scenario | Streams ok / failed | TTFB p50 | TTFB p99 | Added TTFB p50 / p99 | "
             "Gap p50 | Gap p99 | Gap max | Added gap p99 / max | Events / stream |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results["contenders"]:
        if r.get("status") != "ok":
            continue
        d = derived.get(r["name"], {})
        for key, x in (r.get("streams") or {}).items():
            if "ttfb_us" not in x:
                L.append(f"| {r['label']} | {key} | error: {x.get('error', '')[:120]} |||||||||")
                continue
            t, g = x["ttfb_us"], x["gap_us"]
            per = x["events"] / x["completed"] if x.get("completed") else 0
            direct_row = r["name"] == "direct"
            L.append(f"| {r['label']} | {key} | {x['completed']} / {x['errors']} | {us(t.get('p50'))} | "
                     f"{us(t.get('p99'))} | "
                     + ("—" if direct_row else f"{signed_us(d.get(f'added_ttfb_{key}_p50'))} / "
                        f"{signed_us(d.get(f'added_ttfb_{key}_p99'))}")
                     + f" | {us(g.get('p50'))} | {us(g.get('p99'))} | {us(g.get('max'))} | "
                     + ("—" if direct_row or key == "ttfb_c1" else
                        f"{signed_us(d.get(f'added_gap_{key}_p99'))} / {signed_us(d.get(f'added_gap_{key}_max'))}")
                     + f" | {per:.0f} |")
    L.append("")
    L.append("## Memory and start-up")
    L.append("")
    L.append("| Contender | Ready (median, min–max, runs) | Idle RSS | Peak RSS under N concurrent "
             "streams (N) | Streams ok / failed | TTFB p50 / p99 under that load | "
             "RSS idle after the run |")
    L.append("|---|---|---|---|---|---|---|")
    for r in results["contenders"]:
        if r.get("status") != "ok":
            continue
        rd = r.get("ready_ms") or {}
        ms = r.get("many_streams") or {}
        L.append(f"| {r['label']} | {num(rd.get('median'), '{:.1f}')} ms ({num(rd.get('min'), '{:.1f}')}–"
                 f"{num(rd.get('max'), '{:.1f}')}, {rd.get('runs')}) | {mib(r.get('idle_rss_kb'))} | "
                 f"{'FAILED' if ms.get('failed') else mib(ms.get('rss_peak_kb'))} ({ms.get('streams', 'n/a')}) | {ms.get('completed', 'n/a')} / {ms.get('errors', ms.get('error', 'n/a'))} | "
                 f"{us(get(ms, 'ttfb_us', 'p50'))} / {us(get(ms, 'ttfb_us', 'p99'))} | "
                 f"{mib(r.get('rss_after_load_kb'))} |")
    L.append("")
    skipped = [r for r in results["contenders"] if r.get("status") != "ok"]
    no_streams = [r for r in results["contenders"] if r.get("streams_skipped")]
    if skipped or no_streams:
        L.append("## Skipped or failed contenders")
        L.append("")
        for r in skipped:
            L.append(f"- **{r['label']}**: {r['status']} — {r.get('reason', '')}")
        for r in no_streams:
            L.append(f"- **{r['label']}**: stream scenarios skipped — {r['streams_skipped']}")
        L.append("")
    sbr = by.get("switchboard", {})
    if sbr.get("status") == "ok":
        L.append(f"Switchboard request log: {sbr.get('request_log_rows')} rows written to its SQLite "
                 f"database during the run. Config: {sbr.get('config_note', 'n/a')}.")
        L.append("")
    L.append("## Other work on the machine during the run")
    L.append("")
    if results.get("realtime"):
        L.append("CPU used by processes this benchmark did not start, as a share of all CPUs. With "
                 "BENCH_RT they ran behind the benchmark (SCHED_RR), using only the CPU time it left "
                 "idle; saturation tails can include the kernel's RT throttling (50 ms per second "
                 "of 100% RT load).")
    else:
        L.append("CPU used by processes this benchmark did not start (from /proc/stat minus our own "
                 "processes), as a share of all CPUs; above ~5% the figures are disturbed and should "
                 "be re-run on a quiet machine (or with BENCH_RT=1).")
    L.append("")
    L.append("| Window | Other processes' CPU-s | Share of the machine | Steal | Load avg (1 min, at end) |")
    L.append("|---|---|---|---|---|")
    windows = [("2 s before start", results.get("noise_before_start"))]
    windows += [(r["label"], r.get("noise")) for r in results["contenders"] if r.get("noise")]
    windows += [("whole run", results.get("noise_overall"))]
    for label, n in windows:
        if not n:
            continue
        flag = " ⚠" if n["foreign_share"] > 0.05 and not results.get("realtime") else ""
        L.append(f"| {label} | {n['foreign_cpu_s']:.1f} | {n['foreign_share'] * 100:.0f}%{flag} | "
                 f"{n['steal_s']:.1f} s | {n['loadavg_1m']:.2f} |")
    L.append("")
    L.append("## Method")
    L.append("")
    L.append(f"- Durations: saturation {s['sat_s']:g} s per point after a {s['warm_s']:g} s warm-up; "
             f"fixed-rate latency {s['lat_s']:g} s per point; streams {s['stream_s']:g} s per scenario; "
             f"{s['many_streams']} streams opened over 1 s and held ~3 s.")
    L.append("- CPU: utime+stime of the server's process tree from /proc/<pid>/stat before and after "
             "each run, divided by the requests that got a 2xx answer. RSS: VmRSS summed over the tree.")
    L.append("- Ready: from just before spawning the process to the first chat completion answered "
             "through it (polled every 0.5 ms; includes the first upstream connection).")
    L.append("- Every contender gets the same requests, bearer token and mocks; nginx has "
             "`proxy_buffering off`, an upstream keepalive pool and a buffered access log.")
    L.append("")
    return "\n".join(L)


# --------------------------------------------------------------------------------------------


def main() -> int:
    s = settings()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    cpus = cpu_layout()
    os.sched_setaffinity(0, cpus["load"])
    notes: list[str] = []
    log(f"{s['mode']} run; contenders: {', '.join(s['contenders'])}; pinning {cpus}")

    tools: dict[str, str | None] = {}
    reason = ensure_apt("wrk", "wrk")
    tools["wrk"] = binary_path("wrk")
    if reason:
        notes.append(f"wrk unavailable ({reason}); saturation measured with oha")
    reason = ensure_oha()
    tools["oha"] = oha_path()
    if reason:
        notes.append(f"oha unavailable ({reason}); latency measured closed-loop with wrk")
    if not tools["wrk"] and not tools["oha"]:
        raise SystemExit("bench: neither wrk nor oha is available")
    tools["nginx"] = binary_path("nginx")
    build()
    # Other work on a shared machine disturbs the figures; run ahead of it where allowed.
    realtime = env_flag("BENCH_RT")
    if realtime:
        # Every process the benchmark starts inherits SCHED_RR: other work on the machine only
        # gets what the kernel's RT throttling leaves it (5%) while load runs. Opt-in only.
        try:
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(10))
            notes.append("BENCH_RT: all benchmark processes ran SCHED_RR (real-time), ahead of "
                         "other work on the machine")
        except (OSError, AttributeError) as e:
            log(f"cannot switch to SCHED_RR: {e}")
    nice = int(env_num("BENCH_NICE", -10 if os.geteuid() == 0 else 0))
    if nice:
        try:
            os.nice(nice)
        except OSError as e:
            log(f"cannot renice to {nice}: {e}")
            nice = 0

    before = Noise()
    time.sleep(2.0)
    idle_check = before.read()
    if idle_check["foreign_share"] > 0.05:
        log(f"warning: other processes are using {idle_check['foreign_share'] * 100:.0f}% of the "
            "machine; figures will be noisy")
    overall = Noise()
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    ctx = Context(s, cpus, workdir, tools)
    results: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": s | {"mocks": {k: list(v) for k, v in s["mocks"].items()},
                         "lat_points": [list(p) for p in s["lat_points"]]},
        "notes": notes,
        "nice": nice,
        "realtime": realtime,
        "noise_before_start": idle_check,
        "contenders": [],
    }
    try:
        start_mocks(ctx)
        # Size of one non-streamed answer, for the report.
        try:
            with socket.create_connection(("127.0.0.1", ctx.mock_ports["fast"])) as sock:
                req = (f"POST {CHAT_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n{BODY}").encode()
                sock.sendall(req)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            results["response_bytes"] = len(data)
        except OSError:
            pass
        classes = {"direct": Direct, "nginx": Nginx, "switchboard": Switchboard, "portkey": Portkey,
                   "litellm": LiteLLM}
        for name in s["contenders"]:
            contender = classes[name](ctx)
            try:
                results["contenders"].append(run_contender(ctx, contender))
            except Exception as e:  # noqa: BLE001
                if contender.proc:
                    contender.proc.stop()
                log(f"{name} failed: {e}")
                results["contenders"].append({"name": name, "label": contender.label,
                                              "status": "failed", "reason": str(e)[-800:]})
    finally:
        stop_all()
    for name in ("nginx", "switchboard", "portkey", "litellm"):
        if name not in s["contenders"]:
            results["contenders"].append({"name": name, "label": name, "status": "skipped",
                                          "reason": "not selected (BENCH_CONTENDERS)"})
    results["noise_overall"] = overall.read()
    results["machine"] = machine(cpus, tools)
    results["pinning_note"] = pinning_note(cpus)
    results["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    results["duration_s"] = time.monotonic() - STARTED
    results["failed_scenarios"] = failed_scenarios(results)
    results["derived"] = derive(results)
    results["targets"], results["aims"] = targets(results, results["derived"])
    results["workdir"] = str(workdir)

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    md = markdown(results)
    name = f"results-{stamp}-{s['mode']}"
    # A quick (smoke) run never replaces the committed full run.
    latest = "latest" if s["mode"] == "full" else f"quick-{dt.date.today().isoformat()}"
    for base in (name, latest):
        (RESULTS_DIR / f"{base}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        (RESULTS_DIR / f"{base}.md").write_text(md)
    print(md)
    log(f"wrote {RESULTS_DIR / name}.md and .json (and {latest}.*); logs in {ctx.logdir}")
    if results["failed_scenarios"]:
        log(f"FAILED: {len(results['failed_scenarios'])} scenario(s) had answers that were not 2xx")
        return 1
    return 0


def profile(tool: str) -> int:
    """Profiles Switchboard alone under wrk load: `perf` (cpu-clock sampling, kernel included)
    or `callgrind` (instruction counts, user space; deterministic). Writes
    bench/results/profile-<tool>-<time>.md."""
    s = settings()
    cpus = cpu_layout()
    os.sched_setaffinity(0, cpus["load"])
    tools = {"wrk": binary_path("wrk"), "oha": oha_path(), "nginx": None}
    if not tools["wrk"]:
        raise SystemExit("bench profile: needs wrk (apt-get install wrk)")
    needed = {"perf": "perf", "callgrind": "valgrind"}[tool]
    if not binary_path(needed):
        raise SystemExit(f"bench profile: {needed} not installed")
    build()
    seconds = env_num("BENCH_PROFILE_SECONDS", 10 if tool == "perf" else 20)
    conc = int(env_num("BENCH_PROFILE_CONNECTIONS", 64 if tool == "perf" else 8))
    path_name = os.environ.get("BENCH_PROFILE_PATH") or (
        "chat-stream" if env_flag("BENCH_PROFILE_STREAMS") else "chat")
    if path_name not in PROFILE_PATHS:
        raise SystemExit(f"bench profile: BENCH_PROFILE_PATH must be one of {', '.join(PROFILE_PATHS)}")
    client_path, body = PROFILE_PATHS[path_name]
    body_json = json.dumps(body, separators=(",", ":"))
    stream = bool(body.get("stream"))
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-profile-"))
    ctx = Context(s | {"mocks": {"fast": s["mocks"]["fast"]}}, cpus, workdir, tools)
    out = workdir / f"{tool}.data"
    report = ""
    try:
        start_mocks(ctx)
        sb = Switchboard(ctx)
        sb.prepare()
        if tool == "callgrind":
            proc = sb.launch("profile", ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                         f"--callgrind-out-file={out}"])
            wait_ready(proc, sb.port, 120)
            warm = py_count(sb.port, client_path, body_json, conc, 16 if stream else 200)
            if warm["ok_requests"] != warm["requests"]:
                raise SystemExit(f"bench profile: warm-up answers {warm['status']} (want 2xx)")
            on = run(["callgrind_control", "--instr=on", str(proc.pid)], timeout=60)
            log(f"callgrind_control: {(on.stdout + on.stderr).strip()}")
        else:
            proc = sb.launch("profile")
            wait_ready(proc, sb.port, 30)
            wrk(ctx, sb.url("fast"), conc, 2)
            perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "4999", "-g",
                                     "-p", str(proc.pid), "-o", str(out)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        requests = 0
        if tool == "callgrind":
            # A fixed number of requests, so instruction counts compare between builds.
            requests = int(env_num("BENCH_PROFILE_REQUESTS", 400 if stream else 2000))
            load = measured(lambda: proc.pids(), lambda: py_count(sb.port, client_path, body_json,
                                                                  conc, requests))
            if load["ok_requests"] != requests:
                raise SystemExit(f"bench profile: answers {load['status']} (want all 2xx)")
            summary = (f"path {path_name} ({client_path}), {load['ok_requests']} of {requests} "
                       f"requests ok, {load['cpu_s_per_1k']:.3f} CPU-s/1k req under callgrind")
        elif stream:
            load = probe(ctx, sb, "fast", conc, seconds)
            requests = load["completed"]
            summary = f"{load['completed']} streams, {load['events']} events"
        else:
            load = measured(lambda: proc.pids(), lambda: wrk(ctx, sb.url("fast"), conc, seconds))
            requests = load["ok_requests"]
            summary = (f"{load['ok_requests']} requests at {load['rps']:.0f} req/s, "
                       f"{load['cpu_s_per_1k']:.3f} CPU-s/1k req")
        log(f"profiled load: {summary}")
        if tool == "callgrind":
            run(["callgrind_control", "--instr=off", str(proc.pid)], timeout=60)
            proc.stop(60)
            flat = run(["callgrind_annotate", "--threshold=99", str(out)], timeout=600).stdout
            incl = run(["callgrind_annotate", "--inclusive=yes", "--threshold=99", str(out)],
                       timeout=600).stdout
            total = next((int(l.split()[0].replace(",", "")) for l in flat.splitlines()
                          if "PROGRAM TOTALS" in l), 0)
            if requests and total:
                summary += (f"; {total:,} instructions in all = {total / requests:,.0f} "
                            "instructions per request (server process, all threads)")
            report = ("## Exclusive (self) instructions\n\n```\n" + "\n".join(flat.splitlines()[:90])
                      + "\n```\n\n## Inclusive instructions\n\n```\n"
                      + "\n".join(incl.splitlines()[:90]) + "\n```\n")
        else:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
            proc.stop()
            flat = run(["perf", "report", "-i", str(out), "--stdio", "--no-children",
                        "--sort", "dso,symbol", "-g", "none", "--percent-limit", "0.4"],
                       timeout=600).stdout
            dso = run(["perf", "report", "-i", str(out), "--stdio", "--no-children", "--sort", "dso",
                       "-g", "none"], timeout=600).stdout
            incl = run(["perf", "report", "-i", str(out), "--stdio", "--children", "--sort", "symbol",
                        "-g", "none", "--percent-limit", "3"], timeout=600).stdout
            strip = lambda t: "\n".join(l.rstrip(" -") for l in t.splitlines()
                                        if l.strip() and not l.startswith("#"))
            report = ("## By binary\n\n```\n" + strip(dso)[:4000] + "\n```\n\n## Self time by "
                      "symbol\n\n```\n" + "\n".join(strip(flat).splitlines()[:80])
                      + "\n```\n\n## Including callees (frame-pointer call graphs; partial)\n\n```\n"
                      + "\n".join(strip(incl).splitlines()[:60]) + "\n```\n")
    finally:
        stop_all()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"profile-{tool}-{path_name}-{stamp}.md"
    kind = f"path {path_name}, " + ("streams" if stream else "non-streamed")
    path.write_text(f"# Switchboard profile ({tool}) — {stamp}\n\nLoad: {conc} connections, {kind}; "
                    f"{summary}. Raw data: {out}\n\n{report}")
    print(path.read_text())
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    try:
        if len(sys.argv) >= 2 and sys.argv[1] == "profile":
            sys.exit(profile(sys.argv[2] if len(sys.argv) > 2 else "perf"))
        sys.exit(main())
    except KeyboardInterrupt:
        stop_all()
        sys.exit(130)
