// The live tail under load (issue 16: "a virtualized table that stays smooth at 1,000 rows/s").
// wrk (a C load generator, 64 connections) drives chat completions to the built-in demo backend
// through the real gateway for a few seconds while the Logs page is open; every row reaches the
// page through the real SSE feed. Measured in the page: rows delivered per second (counted where
// the EventSource hands them over), frame gaps (requestAnimationFrame), long tasks
// (PerformanceObserver 'longtask'), the DOM's row count, and from Chromium's trace the main
// thread's busy and CPU time. The same load with a page that shows no rows (Budgets) is the
// control. Without wrk (not a Debian test machine), Node's fetch drives the load.
import { spawn } from 'node:child_process';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const SECONDS = 5;
const CONNECTIONS = 64;
// The limits. Wall-clock figures (frame gaps, the browser's long tasks) also count the time the
// page waited for a CPU on a shared 2-core machine (gateway, wrk and other builds run beside
// it; the control page shows it). Chromium's trace tells the two apart: the main thread's busy
// time over its CPU time is how much slower than the page's own work the wall clock ran. So the
// page's own work is held to fixed limits (CPU time), and the frame gaps to a 50 ms frame
// budget stretched by that factor (on an idle machine, 50 ms itself).
const P95_GAP_BUDGET_MS = 50;
const MAX_GAP_MS = 2000;
const MIN_FPS = 10;
const MAX_CPU_LONG_TASKS = 2;
const MAX_CPU_SHARE = 0.35;
const MAX_DOM_ROWS = 80;
// The load must be real: a tail that gets a trickle proves nothing.
const MIN_ROWS_PER_S = 200;

/** Counts every `request` event where the page's EventSource delivers it (before the app's
 *  own listener), and its arrival time. Runs before the app's scripts. */
function countRows() {
  const add = EventSource.prototype.addEventListener;
  window.__rows = [];
  EventSource.prototype.addEventListener = function (type, listener, options) {
    if (type === 'request' && typeof listener === 'function') {
      const inner = listener;
      listener = function (event) {
        window.__rows.push(performance.now());
        return inner.call(this, event);
      };
    }
    return add.call(this, type, listener, options);
  };
}

function measureFrames() {
  window.__frames = [];
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask' });
  let last = performance.now();
  const tick = (t) => {
    window.__frames.push([t, t - last]);
    last = t;
    if (!window.__stopFrames) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  return performance.now();
}

function hasWrk() {
  return ['/usr/bin/wrk', '/usr/local/bin/wrk'].find(existsSync);
}

/** Closed-loop load for `seconds`; resolves to the 2xx count. */
function drive(url, body, seconds, work) {
  const wrk = hasWrk();
  if (!wrk) return driveWithFetch(url, body, seconds);
  const script = join(work, 'load.lua');
  writeFileSync(
    script,
    `wrk.method = "POST"
wrk.body = [[${body}]]
wrk.headers["Content-Type"] = "application/json"
function done(summary, latency, requests)
  io.write(string.format("LOADJSON %d %d %d\\n", summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
`,
  );
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, ['-t', '2', '-c', String(CONNECTIONS), '-d', `${seconds}s`, '-s', script, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', () => {
      const m = out.match(/LOADJSON (\d+) (\d+) (\d+)/);
      if (!m) return reject(new Error(`wrk said: ${out}`));
      const [requests, bad, broken] = m.slice(1).map(Number);
      resolve({ ok: requests - bad, failed: bad + broken, tool: `wrk, ${CONNECTIONS} connections` });
    });
  });
}

async function driveWithFetch(url, body, seconds) {
  const started = Date.now();
  let ok = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() - started < seconds * 1000) {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await r.arrayBuffer();
        if (r.ok) ok++;
        else failed++;
      }
    }),
  );
  return { ok, failed, tool: `Node fetch, ${CONNECTIONS} at a time (no wrk)` };
}

/** Chromium's trace of the page's main thread: how long its tasks took on the wall clock and on
 *  a CPU (`tdur`, thread time), so waiting for a CPU is told from the page's own work. */
async function startTrace(page) {
  const cdp = await page.context().newCDPSession(page);
  const events = [];
  cdp.on('Tracing.dataCollected', (d) => events.push(...d.value));
  await cdp.send('Tracing.start', { categories: 'toplevel,__metadata', transferMode: 'ReportEvents' });
  return {
    async stop() {
      const done = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
      await cdp.send('Tracing.end');
      await done;
      await cdp.detach();
      const main = new Set(events.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}/${e.tid}`));
      const tasks = events.filter((e) => e.ph === 'X' && (e.name === 'ThreadControllerImpl::RunTask' || e.name === 'RunTask') && main.has(`${e.pid}/${e.tid}`));
      const everywhere = events.filter((e) => e.ph === 'X' && (e.name === 'ThreadControllerImpl::RunTask' || e.name === 'RunTask'));
      return {
        // Every Chromium thread's tasks: raster, compositing and the GPU process work for the page too.
        allCpuMs: everywhere.reduce((a, e) => a + (e.tdur ?? 0), 0) / 1000,
        tasks: tasks.length,
        wallMs: tasks.reduce((a, e) => a + (e.dur ?? 0), 0) / 1000,
        cpuMs: tasks.reduce((a, e) => a + (e.tdur ?? 0), 0) / 1000,
        cpuLong: tasks.filter((e) => (e.tdur ?? 0) > 50_000).length,
      };
    },
  };
}

/** Drives the load for SECONDS with `route` open and measures in the page. */
async function measure({ page, base, work, until, route, alias, ready }) {
  await page.goto(`${base}/ui/#/${route}`);
  await page.reload();
  await ready();
  const t0 = await page.evaluate(measureFrames);
  const body = JSON.stringify({ model: alias, messages: [{ role: 'user', content: 'load' }] });
  const trace = await startTrace(page);
  const load = await drive(`${base}/v1/chat/completions`, body, SECONDS, work);
  const cpu = await trace.stop();
  const t1 = await page.evaluate(() => performance.now());
  // Every row reaches the page (the feed is lossless).
  await until('every row in the page', async () => (await page.evaluate((t0) => window.__rows.filter((t) => t >= t0).length, t0)) >= load.ok, 20_000);
  const m = await page.evaluate(
    ([t0, t1]) => {
      window.__stopFrames = true;
      const inWindow = ([t]) => t >= t0 && t <= t1;
      const rows = window.__rows.filter((t) => t >= t0);
      // Rows per whole second from the first row on, for the peak.
      const buckets = new Map();
      for (const t of rows) {
        const second = Math.floor((t - rows[0]) / 1000);
        buckets.set(second, (buckets.get(second) ?? 0) + 1);
      }
      return {
        rows: rows.length,
        spanMs: rows.length ? rows.at(-1) - rows[0] : 0,
        peak: Math.max(0, ...buckets.values()),
        gaps: window.__frames.filter(inWindow).map(([, gap]) => gap),
        longtasks: window.__longtasks.filter(inWindow).map(([, d]) => d),
      };
    },
    [t0, t1],
  );
  const gaps = m.gaps.slice(1).sort((a, b) => a - b);
  const figures = {
    load,
    rows: m.rows,
    rate: Math.round(m.rows / (Math.max(m.spanMs, 1) / 1000)),
    peak: m.peak,
    frames: gaps.length,
    p95: gaps[Math.floor(gaps.length * 0.95)] ?? Infinity,
    worst: gaps.at(-1) ?? Infinity,
    longtasks: m.longtasks.length,
    longMs: m.longtasks.reduce((a, b) => a + b, 0),
    windowMs: t1 - t0,
    cpu,
  };
  figures.text =
    `${load.ok} requests in ${SECONDS} s (${load.tool}, ${load.failed} failed); the page got ${m.rows} rows, ${figures.rate}/s on average, peak ${m.peak} in one second; ` +
    `${figures.frames} frames, gap p95 ${figures.p95.toFixed(1)} ms, worst ${figures.worst.toFixed(0)} ms; ${figures.longtasks} long tasks, ${figures.longMs.toFixed(0)} ms of ${figures.windowMs.toFixed(0)} ms; ` +
    `main thread ${cpu.wallMs.toFixed(0)} ms busy, ${cpu.cpuMs.toFixed(0)} ms on a CPU, ${cpu.cpuLong} tasks over 50 ms of CPU; all of Chromium ${cpu.allCpuMs.toFixed(0)} ms of CPU`;
  return figures;
}

export async function logsUnderLoad({ page, base, work, check, shot, until, alias }) {
  await page.addInitScript(countRows);
  // The control: the same load and feed with a page that shows no rows (Budgets), so what the
  // machine itself costs (gateway, mock and wrk share its cores) is told from the table's cost.
  const control = await measure({ page, base, work, until, route: 'budgets', alias, ready: () => page.getByRole('heading', { name: 'Budgets', exact: true }).waitFor() });
  console.error(`control (Budgets page) under load: ${control.text}`);
  const shown = async () => Number(await page.getByTestId('row-count').getAttribute('data-count'));
  let rowsBefore = 0;
  const logs = await measure({
    page, base, work, until, route: 'logs', alias,
    ready: async () => {
      await page.getByTestId('tail-state').getByText('live').waitFor();
      rowsBefore = await shown();
    },
  });
  console.error(`Logs page under load: ${logs.text}`);
  await until('every row in the table', async () => (await shown()) >= Math.min(5000, rowsBefore + logs.load.ok), 10_000);
  const inDom = await page.getByTestId('log-row').count();
  check(`under load every request reaches the live tail (≥ ${MIN_ROWS_PER_S} rows/s)`, logs.load.failed === 0 && logs.rows >= logs.load.ok && logs.rate >= MIN_ROWS_PER_S, logs.text);
  check(`the live table stays virtualized under load (≤ ${MAX_DOM_ROWS} rows in the DOM)`, inDom > 0 && inDom <= MAX_DOM_ROWS, `${inDom} rows`);
  const { cpu } = logs;
  const stretch = Math.max(1, cpu.wallMs / Math.max(cpu.cpuMs, 1));
  const fps = logs.frames / (logs.windowMs / 1000);
  check(
    `the Logs page keeps painting under load (frame gap p95 ≤ ${P95_GAP_BUDGET_MS} ms × CPU wait, none ≥ ${MAX_GAP_MS} ms, ≥ ${MIN_FPS} frames/s)`,
    logs.p95 <= P95_GAP_BUDGET_MS * stretch && logs.worst < MAX_GAP_MS && fps >= MIN_FPS,
    `p95 ${logs.p95.toFixed(1)} ms (limit ${(P95_GAP_BUDGET_MS * stretch).toFixed(0)} ms: the main thread ran ${stretch.toFixed(1)}× its CPU time), worst ${logs.worst.toFixed(0)} ms, ${fps.toFixed(0)} frames/s; ` +
      `long tasks ${logs.longtasks}, ${logs.longMs.toFixed(0)} of ${logs.windowMs.toFixed(0)} ms; control page p95 ${control.p95.toFixed(1)} ms, long tasks ${control.longtasks}, ${control.longMs.toFixed(0)} ms`,
  );
  check(
    `the Logs page's own work stays small under load (≤ ${MAX_CPU_LONG_TASKS} tasks over 50 ms of CPU, main thread < ${MAX_CPU_SHARE * 100}% of a CPU, all of Chromium < ${2 * MAX_CPU_SHARE * 100}%)`,
    cpu.tasks > 0 && cpu.cpuLong <= MAX_CPU_LONG_TASKS && cpu.cpuMs < MAX_CPU_SHARE * logs.windowMs && cpu.allCpuMs < 2 * MAX_CPU_SHARE * logs.windowMs,
    `main thread ${cpu.cpuMs.toFixed(0)} ms of CPU in ${logs.windowMs.toFixed(0)} ms at ${logs.rate} rows/s (control page ${control.cpu.cpuMs.toFixed(0)} ms), all of Chromium ${cpu.allCpuMs.toFixed(0)} ms (control ${control.cpu.allCpuMs.toFixed(0)} ms); ${cpu.cpuLong} tasks over 50 ms`,
  );
  await shot(page, 'logs-under-load');

  // Scrolled down, the rows in view stay put while new rows arrive above them.
  const inView = () =>
    page.getByTestId('log-rows').evaluate((scroller) => {
      const box = scroller.getBoundingClientRect();
      return document.elementFromPoint(box.left + 40, box.top + 48)?.closest('[data-testid="log-row"]')?.getAttribute('href');
    });
  await page.getByTestId('log-rows').evaluate((scroller) => (scroller.scrollTop = 100 * 32));
  await until('the scrolled window', async () => (await inView()) != null);
  const anchor = await inView();
  const before = await page.evaluate(() => window.__rows.length);
  const body = JSON.stringify({ model: alias, messages: [{ role: 'user', content: 'above' }] });
  for (let i = 0; i < 3; i++) await (await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).arrayBuffer();
  await until('the new rows', async () => (await page.evaluate(() => window.__rows.length)) >= before + 3);
  await page.waitForTimeout(500); // past the next redraw
  const after = await inView();
  check('scrolled down, the rows in view stay put while new rows arrive', anchor === after, `${anchor} → ${after}`);
  return { logs, control };
}
