// End to end in a real browser: Debian's Chromium (no browser download) driven by
// playwright-core, against the real `switchboard serve` binary and the mock upstream, each on a
// free port, with HOME and XDG dirs in a temp folder. Screenshots of every page go to an
// artifacts folder whose paths are printed.
//
//   node e2e/run.mjs            (binaries from $CARGO_TARGET_DIR/debug or ../target/debug)
//   SWITCHBOARD_BIN=... MOCK_UPSTREAM_BIN=... CHROMIUM=/usr/bin/chromium node e2e/run.mjs
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { logsUnderLoad } from './logs-load.mjs';
import { badgeFollowsTheGateway } from './gateway-stop.mjs';

const root = resolve(new URL('../..', import.meta.url).pathname);
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
const bin = (name) => process.env[`${name.toUpperCase().replace('-', '_')}_BIN`] ?? join(targetDir, 'debug', name);
const SWITCHBOARD = process.env.SWITCHBOARD_BIN ?? bin('switchboard');
const MOCK = process.env.MOCK_UPSTREAM_BIN ?? bin('mock-upstream');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const work = mkdtempSync(join(tmpdir(), 'sb-ui-e2e-'));
const artifacts = process.env.UI_ARTIFACTS ?? join(work, 'artifacts');
mkdirSync(artifacts, { recursive: true });

const children = [];
let failures = 0;
const results = [];

function check(name, ok, detail = '') {
  results.push(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
  if (!ok) failures++;
  console.error(results.at(-1));
}

function freePort() {
  return new Promise((res, rej) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => res(port));
    });
    server.on('error', rej);
  });
}

function start(cmd, args, env, onLine) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const log = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      log.push(chunk);
      for (const line of chunk.split('\n')) onLine?.(line);
    });
  }
  child.on('exit', (code) => {
    if (code && code !== 0 && !stopping) console.error(`${cmd} exited with ${code}:\n${log.join('')}`);
  });
  return { child, log };
}

async function until(what, fn, timeoutMs = 10_000) {
  const started = Date.now();
  let last;
  while (Date.now() - started < timeoutMs) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

let stopping = false;
let base = '';
function stopAll() {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
}
process.on('exit', stopAll);

async function main() {
  for (const [name, path] of [['switchboard', SWITCHBOARD], ['mock-upstream', MOCK], ['chromium', CHROMIUM]]) {
    if (!existsSync(path)) throw new Error(`${name} not found at ${path} (build it, or set the path in the environment)`);
  }
  const home = join(work, 'home');
  const env = {
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local/share'),
    SWITCHBOARD_LOG: 'info',
  };
  mkdirSync(env.XDG_CONFIG_HOME, { recursive: true });

  let mockUrl = '';
  start(MOCK, ['--listen', '127.0.0.1:0', '--stream-chunks', '5', '--chunk-interval-ms', '1'], env, (line) => {
    const m = line.match(/listening on (http:\/\/\S+)/);
    if (m) mockUrl = m[1].replace(/\/$/, '').replace(/\/v1$/, '');
  });
  await until('the mock upstream', () => mockUrl);
  const port = await freePort();
  const closed = await freePort();
  base = `http://127.0.0.1:${port}`;
  const config = join(work, 'config.toml');
  const database = join(work, 'data', 'switchboard.db');
  writeFileSync(
    config,
    `listen = "127.0.0.1:${port}"

[database]
capture_bodies = "all"

[providers.mock]
kind = "openai"
base_url = "${mockUrl}/v1"
budget = "daily"

[providers.dead]
kind = "openai"
base_url = "http://127.0.0.1:${closed}/v1"
breaker = { failures = 1, cooldown_s = 300 }

[aliases.chat]
targets = ["mock/gpt-mock"]

[aliases.other]
targets = ["mock/other-model"]

[aliases.flaky]
targets = ["dead/model"]

# The built-in demo backend answers at once: the live-tail load test's alias.
[providers.demo]
kind = "demo"

[aliases.load]
targets = ["demo/switchboard-demo"]

[budgets.daily]
usd = 5
period = "day"
alert_at = 0.8
`,
  );
  const gateway = start(SWITCHBOARD, ['--config', config, 'serve', '--database', database], env);
  await until('the gateway', async () => (await fetch(`${base}/health/liveliness`)).ok);

  // Closed to everyone without the secret or a session.
  const anonymous = await fetch(`${base}/admin/requests`);
  check('the admin API refuses a request without a session', anonymous.status === 401, `got ${anonymous.status}`);
  const forged = await fetch(`${base}/admin/requests`, { headers: { cookie: 'sb_session=made-up' } });
  check('a made-up session cookie is refused', forged.status === 401, `got ${forged.status}`);

  const link = execFileSync(SWITCHBOARD, ['--config', config, 'dashboard', '--print-url', '--url', base, '--database', database], { env: { ...process.env, ...env } })
    .toString()
    .trim();
  check('`switchboard dashboard --print-url` prints a one-time login link', link.startsWith(`${base}/admin/login?code=`), link.replace(/code=.*/, 'code=…'));

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // Playwright gives every launch a fresh, empty profile of its own.
  });
  try {
    // The login page for someone without a session.
    const stranger = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const outside = await stranger.newPage();
    await outside.goto(`${base}/ui/`);
    await outside.getByText('Log in to the Switchboard dashboard').waitFor();
    await shot(outside, 'login');
    await stranger.close();

    const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(link);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const url = page.url();
    check('the login link lands on the dashboard with the code gone from the address bar', url === `${base}/ui/` || url === `${base}/ui/#/overview`, url);
    const cookies = await context.cookies(base);
    const session = cookies.find((c) => c.name === 'sb_session');
    check('the session cookie is HttpOnly and SameSite=Strict', session?.httpOnly === true && session?.sameSite === 'Strict');
    const reused = await fetch(link, { redirect: 'manual' });
    check('the login link works only once', reused.status === 401, `got ${reused.status}`);
    await page.getByTestId('empty-overview').waitFor();
    await shot(page, 'overview-empty');

    // CSRF: the cookie alone does not make a state-changing call.
    const cookie = `sb_session=${session?.value}`;
    const noHeader = await fetch(`${base}/admin/targets/reset`, { method: 'POST', headers: { cookie, origin: base } });
    check('a write with the cookie but without the CSRF header is refused', noHeader.status === 403, `got ${noHeader.status}`);
    const crossSite = await fetch(`${base}/admin/targets/reset`, { method: 'POST', headers: { cookie, origin: 'http://evil.example', 'x-switchboard-csrf': '1' } });
    check('a cross-origin write with the cookie is refused', crossSite.status === 403, `got ${crossSite.status}`);

    // Live tail: a request made with curl shows up within a second.
    await page.goto(`${base}/ui/#/logs`);
    await page.getByTestId('tail-state').getByText('live').waitFor();
    const correlation = `e2e-${Date.now()}`;
    const sent = Date.now();
    const answer = execFileSync('curl', ['-sS', '-f', `${base}/v1/chat/completions`, '-H', 'content-type: application/json', '-H', `x-correlation-id: ${correlation}`, '-d', JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hello from curl' }] })]).toString();
    check('curl gets an answer through the gateway', answer.includes('choices'));
    await page.locator(`[data-correlation="${correlation}"]`).waitFor({ timeout: 5000 });
    const seenAfter = Date.now() - sent;
    check('the curl request appears in the live log within a second', seenAfter < 1000, `${seenAfter} ms`);

    // Another alias, streamed, and a failing one (opens its breaker).
    execFileSync('curl', ['-sS', '-f', `${base}/v1/chat/completions`, '-H', 'content-type: application/json', '-d', JSON.stringify({ model: 'other', stream: true, messages: [{ role: 'user', content: 'stream please' }] })]);
    execFileSync('curl', ['-sS', `${base}/v1/chat/completions`, '-H', 'content-type: application/json', '-d', JSON.stringify({ model: 'flaky', messages: [{ role: 'user', content: 'x' }] })]);
    await until('three rows', async () => (await page.getByTestId('log-row').count()) >= 3);
    await shot(page, 'logs');

    // Filter by alias: only `chat` rows stay, and the filter is in the URL.
    await page.getByTestId('filter-alias').selectOption('chat');
    await until('the filtered table', async () => {
      const aliases = await page.getByTestId('log-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-alias')));
      return aliases.length > 0 && aliases.every((a) => a === 'chat');
    });
    check('filtering by alias keeps only that alias, in the URL', page.url().includes('alias=chat'), page.url());
    await shot(page, 'logs-filtered');

    // Detail, then copy as cURL and replay the copied command.
    await page.locator(`[data-correlation="${correlation}"]`).click();
    await page.getByTestId('detail-correlation').getByText(correlation).waitFor();
    await page.getByTestId('attempts').waitFor();
    await page.getByTestId('copy-curl').click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check('the copied cURL command carries the captured body', copied.includes('hello from curl') && copied.startsWith('curl '));
    const replay = execFileSync('bash', ['-c', `${copied} -sS -f -H 'x-correlation-id: ${correlation}-replay'`]).toString();
    check('the copied cURL command replays successfully', JSON.parse(replay).choices?.length > 0);
    await shot(page, 'request-detail');

    // The streamed request: its captured events are reassembled.
    await page.goto(`${base}/ui/#/logs?alias=other`);
    await page.getByTestId('log-row').first().click();
    await page.getByTestId('response-body').waitFor();
    const reassembled = await page.getByRole('heading', { name: /reassembled/ }).count();
    check('a streamed response is shown reassembled', reassembled === 1);
    await shot(page, 'request-detail-stream');

    // Health: the failing target's breaker is open; reset it from the page.
    await page.goto(`${base}/ui/#/health`);
    const dead = page.locator('[data-testid="target-row"][data-target="dead/model"]');
    await dead.and(page.locator('[data-state="open"]')).waitFor();
    await shot(page, 'health-open');
    await dead.getByTestId('reset').click();
    await page.locator('[data-testid="target-row"][data-target="dead/model"][data-state="healthy"]').waitFor();
    check('resetting a breaker from Health closes it', true);
    await shot(page, 'health');

    await page.goto(`${base}/ui/#/budgets`);
    await page.getByTestId('budget').first().waitFor();
    const cacheLine = await page.getByTestId('budget-cache').first().innerText();
    check('budgets show their prompt-cache figures', /Prompt cache: (\d+% of|no priced input)/.test(cacheLine), cacheLine);
    await shot(page, 'budgets');
    await (await import('./edit.mjs')).editorFlows({ page, base, config, check, shot, until });

    await page.goto(`${base}/ui/#/overview`);
    await page.getByTestId('requests-today').waitFor();
    await shot(page, 'overview');

    await page.goto(`${base}/ui/#/charts`);
    await page.locator('.uplot').first().waitFor();
    await shot(page, 'charts');

    // Keyboard on the logs: j/k move the selection, Enter opens the row, Esc comes back,
    // `/` focuses the search box and Esc leaves it.
    await page.goto(`${base}/ui/#/logs`);
    await until('rows', async () => (await page.getByTestId('log-row').count()) >= 3);
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    const selectedIndex = () => page.getByTestId('log-row').evaluateAll((rows) => rows.findIndex((r) => r.classList.contains('sel')));
    const before = await selectedIndex();
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    const afterJ = await selectedIndex();
    await page.keyboard.press('k');
    const afterK = await selectedIndex();
    check('j and k move through the rows', before === 0 && afterJ === 2 && afterK === 1, `${before} → ${afterJ} → ${afterK}`);
    const selectedId = await page.locator('[data-testid="log-row"].sel').getAttribute('href');
    await page.keyboard.press('Enter');
    await page.getByTestId('attempts').waitFor();
    check('Enter opens the selected row', page.url().endsWith(selectedId ?? '-'), page.url());
    await page.keyboard.press('Escape');
    await page.getByRole('heading', { name: 'Logs' }).waitFor();
    check('Esc closes the request detail', page.url().includes('#/logs'), page.url());
    await page.keyboard.press('/');
    const focused = await page.evaluate(() => document.activeElement?.hasAttribute('data-search') ?? false);
    check('`/` focuses the search box', focused);
    await page.keyboard.press('Escape');
    const blurred = await page.evaluate(() => !document.activeElement?.hasAttribute('data-search'));
    check('Esc leaves the search box', blurred);

    // Time range and filters are in the URL: a reload (or a shared link) keeps them.
    await page.getByLabel('Time range').selectOption('1h');
    await page.getByTestId('filter-status').selectOption('error');
    await until('the URL', async () => page.url().includes('range=1h') && page.url().includes('status=error'));
    await page.reload();
    await page.getByRole('heading', { name: 'Logs' }).waitFor();
    const kept = (await page.getByLabel('Time range').inputValue()) === '1h' && (await page.getByTestId('filter-status').inputValue()) === 'error';
    const onlyFailed = await until('the failed row', async () => {
      const rows = await page.getByTestId('log-row').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-alias')));
      return rows.length > 0 && rows.every((a) => a === 'flaky') ? rows : null;
    });
    check('time range and filters survive a reload (they are in the URL)', kept && onlyFailed.length >= 1, page.url());

    // Pause holds new rows back, Resume shows them, Clear empties the table.
    await page.goto(`${base}/ui/#/logs?alias=chat`);
    await page.getByTestId('tail-state').getByText('live').waitFor();
    await until('chat rows', async () => (await page.getByTestId('log-row').count()) >= 1);
    const shownBefore = await page.getByTestId('log-row').count();
    await page.getByTestId('pause').click();
    await chat(`paused-${Date.now()}`);
    await page.getByTestId('resume').getByText('1 new').waitFor();
    const whilePaused = await page.getByTestId('log-row').count();
    await page.getByTestId('resume').click();
    await until('the held row', async () => (await page.getByTestId('log-row').count()) === shownBefore + 1);
    check('pause holds new rows back and resume shows them', whilePaused === shownBefore);
    await page.getByRole('button', { name: 'Clear' }).click();
    check('clear empties the table', (await page.getByTestId('log-row').count()) === 0);

    // Column toggles: hiding Target removes the column, and the choice is remembered.
    await page.getByRole('button', { name: 'Columns' }).click();
    await page.getByLabel('Target', { exact: true }).first().uncheck();
    await page.reload();
    await page.getByRole('heading', { name: 'Logs' }).waitFor();
    const targetHeader = await page.locator('.thead .c-target').count();
    check('a hidden column stays hidden after a reload', targetHeader === 0);
    await page.getByRole('button', { name: 'Columns' }).click();
    await page.getByLabel('Target', { exact: true }).first().check();

    await logsUnderLoad({ page, base, work, check, shot, until, alias: 'load' });

    // Theme: the button cycles system → light → dark and the choice is remembered.
    const themeButton = page.getByRole('button', { name: /^Theme:/ });
    const themes = [];
    for (let i = 0; i < 3; i++) {
      await themeButton.click();
      themes.push(await page.evaluate(() => document.documentElement.dataset.theme));
    }
    await page.reload();
    await page.getByRole('heading', { name: 'Logs' }).waitFor();
    const remembered = await page.evaluate(() => document.documentElement.dataset.theme);
    check('the theme button cycles light, dark and system, remembered', themes.join(',') === 'light,dark,system' && remembered === 'system', `${themes.join(',')} then ${remembered}`);

    // Dark theme and the command palette.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${base}/ui/#/logs`);
    await page.getByTestId('log-row').first().waitFor();
    await page.keyboard.press('Control+k');
    await page.getByRole('dialog', { name: 'Command palette' }).waitFor();
    await shot(page, 'logs-dark-palette');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog', { name: 'Command palette' }).waitFor({ state: 'detached' });
    check('Esc closes the command palette', true);
    await page.keyboard.press('Control+k');
    await page.getByRole('dialog', { name: 'Command palette' }).waitFor();
    await page.keyboard.type('health');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Health' }).waitFor();
    check('the command palette navigates', page.url().endsWith('#/health'));

    // Logout ends the session for the API too.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('Log in to the Switchboard dashboard').waitFor();
    const after = await fetch(`${base}/admin/requests`, { headers: { cookie } });
    check('after logout the old cookie is refused', after.status === 401, `got ${after.status}`);
    check('no script errors on any page', pageErrors.length === 0, pageErrors.join('; '));
    await context.close();
    await (await import('./clients.mjs')).run({ browser, check, shot, start, until, freePort, SWITCHBOARD, mockUrl, work });
    await (await import('./degraded.mjs')).run({ browser, check, shot, start, until, freePort, SWITCHBOARD, mockUrl, work });
    await badgeFollowsTheGateway({ browser, check, shot, ...gatewayControls(gateway, [SWITCHBOARD, ['--config', config, 'dashboard', '--print-url', '--url', base, '--database', database], ['--config', config, 'serve', '--database', database]], env) });
  } finally {
    await browser.close();
  }
  const leaked = gateway.log.join('').includes(link.split('code=')[1]);
  check('the login code never appears in the gateway log', !leaked);
  await (await import('./providers.mjs')).underKeyring(check);
}

/** New login links, and stopping and starting the gateway (gateway-stop.mjs). */
function gatewayControls(gateway, [binary, linkArgs, serveArgs], env) {
  return {
    newLink: () => execFileSync(binary, linkArgs, { env: { ...process.env, ...env } }).toString().trim(),
    stopGateway: async () => {
      const exited = new Promise((r) => gateway.child.once('exit', r));
      gateway.child.kill('SIGTERM');
      const code = await exited;
      check('the gateway stops on SIGTERM with exit code 0', code === 0, `exit code ${code}`);
    },
    startGateway: async () => {
      start(binary, serveArgs, env);
      await until('the restarted gateway', async () => (await fetch(`${base}/health/liveliness`)).ok);
    },
  };
}

function chat(correlation) {
  return fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-correlation-id': correlation },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }),
  }).then((r) => r.text());
}

async function shot(page, name) {
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.error(`screenshot: ${path}`);
}

main()
  .catch((e) => {
    failures++;
    console.error(`FAIL ${e.stack ?? e}`);
  })
  .finally(() => {
    stopAll();
    console.error(`\n${results.length} checks, ${failures} failed; screenshots in ${artifacts}`);
    process.exit(failures ? 1 : 0);
  });
