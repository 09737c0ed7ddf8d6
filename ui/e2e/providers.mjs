// The providers vertical in a real browser, against its own `switchboard serve` on a
// demo-only config with hand-written comments, a mock upstream (also found by discovery on an
// injected port) and a mock GitHub: onboarding finds the server and creates aliases in one
// step; the Providers page adds a provider (tested before saving), stores its key in a private
// keyring (`switchboard keys list` sees it; no GET returns it), tests the connection, lists
// models and creates an alias in one click, and logs in to Copilot with the device code.
//
// `run.mjs` calls `underKeyring(check)`: this file again, inside `dbus-run-session` with an
// unlocked throwaway gnome-keyring (the user's keychain is never touched). Alone:
//   dbus-run-session -- sh -c 'eval "$(printf x | gnome-keyring-daemon --unlock --components=secrets)"; node e2e/providers.mjs'
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const root = resolve(here, '../../..');
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
const SWITCHBOARD = process.env.SWITCHBOARD_BIN ?? join(targetDir, 'debug', 'switchboard');
const MOCK = process.env.MOCK_UPSTREAM_BIN ?? join(targetDir, 'debug', 'mock-upstream');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Runs this flow in a private D-Bus session with its own keyring; reports each check to `check`. */
export async function underKeyring(check) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-ui-keyring-'));
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'run'), { mode: 0o700 });
  const script = `eval "$(printf switchboard-test | gnome-keyring-daemon --unlock --components=secrets)"; exec node '${here}'`;
  const child = spawn('dbus-run-session', ['--', 'sh', '-c', script], {
    env: { ...process.env, XDG_DATA_HOME: join(dir, 'data'), XDG_RUNTIME_DIR: join(dir, 'run') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    let rest = '';
    stream.on('data', (chunk) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      // The browser's D-Bus portal chatter is noise here; the flow's own lines are not.
      for (const line of parts) {
        // Check lines are reported through `check` below; the rest of the flow's own output here.
        if (/^(screenshot:|\[providers\])/.test(line) || (line.startsWith('FAIL') && !line.startsWith('FAIL [providers]'))) console.error(line);
        lines.push(line);
      }
    });
  }
  const code = await new Promise((res) => child.on('exit', res));
  let reported = 0;
  for (const line of lines) {
    const m = /^(ok {2}|FAIL) \[providers\] (.*)$/.exec(line);
    if (m) {
      reported++;
      check(`[providers] ${m[2]}`, m[1] === 'ok  ');
    }
  }
  check('[providers] the providers flow ran to its end', code === 0 && reported > 0, `exit ${code}, ${reported} checks`);
}

const children = [];
let failures = 0;
let count = 0;
function check(name, ok, detail = '') {
  count++;
  if (!ok) failures++;
  console.error(`${ok ? 'ok  ' : 'FAIL'} [providers] ${name}${detail ? ` (${detail})` : ''}`);
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

async function main() {
  const { chromium } = await import('playwright-core');
  const work = mkdtempSync(join(tmpdir(), 'sb-ui-providers-'));
  const artifacts = process.env.UI_ARTIFACTS ?? join(work, 'artifacts');
  mkdirSync(artifacts, { recursive: true });
  const shot = async (page, name) => {
    const path = join(artifacts, `providers-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.error(`screenshot: ${path}`);
  };
  const home = join(work, 'home');
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), SWITCHBOARD_LOG: 'info' };
  mkdirSync(env.XDG_CONFIG_HOME, { recursive: true });

  let mockUrl = '';
  let githubUrl = '';
  start(MOCK, ['--listen', '127.0.0.1:0', '--copilot'], env, (line) => {
    const m = line.match(/mock-upstream listening on (http:\/\/\S+)/);
    if (m) mockUrl = m[1].replace(/\/$/, '').replace(/\/v1$/, '');
    const g = line.match(/mock-github listening on (http:\/\/\S+)/);
    if (g) githubUrl = g[1].replace(/\/$/, '');
  });
  await until('the mock upstream and GitHub', () => mockUrl && githubUrl);
  const mockPort = new URL(mockUrl).port;
  const port = await freePort();
  const closed = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = join(work, 'config.toml');
  const database = join(work, 'data', 'switchboard.db');
  const original = `# My hand-written config: every comment here must survive the dashboard's saves.
listen = "127.0.0.1:${port}"

# The built-in demo, as the first-run default has it.
[providers.demo]
kind = "demo"

[aliases.demo]
targets = ["demo/switchboard-demo"]   # keep this note
`;
  writeFileSync(config, original);
  // Discovery's usual ports replaced by the mock's (an "Ollama" on a free port).
  const gateway = start(SWITCHBOARD, ['--config', config, 'serve', '--database', database], {
    ...env,
    SWITCHBOARD_DISCOVER_PORTS: `ollama=${mockPort}`,
  });
  await until('the gateway', async () => (await fetch(`${base}/health/liveliness`)).ok);
  const cli = (...args) => execFileSync(SWITCHBOARD, ['--config', config, ...args], { env: { ...process.env, ...env } }).toString();
  const link = cli('dashboard', '--print-url', '--url', base, '--database', database).trim();
  const comments = original.split('\n').filter((l) => l.includes('#'));
  const keepsComments = () => {
    const text = readFileSync(config, 'utf8');
    return comments.every((c) => text.includes(c.trim().startsWith('#') ? c : c.slice(c.indexOf('#'))));
  };

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(link);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const cookie = `sb_session=${(await context.cookies(base)).find((c) => c.name === 'sb_session')?.value}`;

    // Onboarding on the empty config: the mock answers on the injected port.
    await page.getByTestId('onboarding').waitFor();
    const found = page.getByTestId('found-server');
    await found.first().waitFor({ timeout: 10_000 });
    const foundText = await found.first().innerText();
    check('onboarding finds the mock server on its local port, with its models', foundText.includes(`127.0.0.1:${mockPort}/v1`) && foundText.includes('mock-model'), foundText.replace(/\s+/g, ' '));
    await shot(page, 'onboarding');
    await page.getByTestId('onboarding-add').click();
    await page.getByTestId('onboarding-done').waitFor();
    const done = await page.getByTestId('onboarding-done').innerText();
    check('onboarding creates the aliases in one step', done.includes('ollama/mock-model') && done.includes('local/chat'), done.replace(/\s+/g, ' '));
    await shot(page, 'onboarding-done');
    const afterOnboarding = readFileSync(config, 'utf8');
    check('the file on disk has the new provider and aliases', afterOnboarding.includes('[providers.ollama]') && afterOnboarding.includes('local/chat'));
    check('every hand-written comment survived the onboarding save', keepsComments());
    const answer = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local/chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    check('the onboarded alias answers at once', answer.ok, `status ${answer.status}`);

    // Providers page: add a provider, testing it before saving.
    await page.goto(`${base}/ui/#/providers`);
    await page.getByRole('heading', { name: 'Providers' }).waitFor();
    await page.locator('[data-testid="provider"][data-name="ollama"]').waitFor();
    await shot(page, 'list');
    await page.getByTestId('add-provider').click();
    const dialog = page.getByTestId('provider-dialog');
    await dialog.waitFor();
    const keyName = `switchboard-e2e-cloud-${process.pid}`;
    const secret = `sk-e2e-${Date.now()}-never-shown`;
    await dialog.getByTestId('f-name').fill('cloud');
    await dialog.getByTestId('f-base-url').fill(`http://127.0.0.1:${closed}/v1`);
    await dialog.getByTestId('f-api-key').fill(`keychain:${keyName}`);
    await dialog.getByTestId('f-test').click();
    await dialog.locator('[data-testid="connection-test"][data-ok="false"]').waitFor();
    const downText = await dialog.getByTestId('connection-test').innerText();
    check('testing an unsaved provider on a closed port explains the failure with the fix', downText.includes('cannot connect') && downText.includes('Fix:'), downText.replace(/\s+/g, ' '));
    await shot(page, 'dialog-test-failed');
    await dialog.getByTestId('f-base-url').fill(`${mockUrl}/v1`);
    await dialog.getByTestId('f-key').fill(secret);
    await dialog.getByTestId('f-test').click();
    await dialog.locator('[data-testid="connection-test"][data-ok="true"]').waitFor();
    await shot(page, 'dialog-test-ok');
    await dialog.getByTestId('f-save').click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator('[data-testid="provider"][data-name="cloud"]');
    await row.waitFor();
    await row.getByTestId('key-state').getByText('set').waitFor();
    check('the saved provider shows its key as set', true);
    const saved = readFileSync(config, 'utf8');
    check('the provider is in the file, the key only as a reference', saved.includes('[providers.cloud]') && saved.includes(`keychain:${keyName}`) && !saved.includes(secret));
    check('comments still there after the provider save', keepsComments());
    const listed = cli('keys', 'list');
    check('`switchboard keys list` sees the key set in the GUI', listed.includes(keyName) && listed.includes('[ok]'), listed.trim());
    let leaked = [];
    for (const path of ['/admin/keys', '/admin/config', '/admin/config/providers', '/admin/config/providers/cloud', '/admin/providers/cloud/models', '/admin/status']) {
      const body = await (await fetch(`${base}${path}`, { headers: { cookie } })).text();
      if (body.includes(secret)) leaked.push(path);
    }
    check('no GET endpoint returns the key', leaked.length === 0, leaked.join(', '));

    // Rotate the key from the row (write-only field).
    await row.getByTestId('key-input').fill(`${secret}-rotated`);
    await row.getByTestId('key-save').click();
    await page.getByTestId('notice').getByText('not shown again').waitFor();
    check('rotating the key from the list works and says it is not shown again', true);
    await shot(page, 'key-rotated');

    // Test connection of the saved provider.
    await row.getByTestId('test').click();
    await row.locator('[data-testid="connection-test"][data-ok="true"]').waitFor();
    const okText = await row.getByTestId('connection-test').innerText();
    check('test connection of the saved provider shows DNS, connect and auth with latency', okText.includes('DNS') && okText.includes('Connect') && okText.includes('200 OK') && / ms/.test(okText), okText.replace(/\s+/g, ' '));

    // Models and one-click aliases.
    await row.getByTestId('models').click();
    await row.getByTestId('model-list').getByText('mock-model').waitFor();
    await shot(page, 'models');
    await row.getByTestId('create-alias').first().click();
    await page.getByTestId('notice').getByText('cloud/mock-model').waitFor();
    const withAlias = readFileSync(config, 'utf8');
    check('one click creates an alias from a backend model, in the file', withAlias.includes('cloud/mock-model'));
    check('comments still there after the alias save', keepsComments());
    const viaAlias = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cloud/mock-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    check('the one-click alias answers', viaAlias.ok, `status ${viaAlias.status}`);

    // Copilot: add the provider in the dialog, then log in with the device code.
    await page.getByTestId('add-provider').click();
    await dialog.waitFor();
    await dialog.getByTestId('f-kind').selectOption('github_copilot');
    await dialog.getByTestId('f-name').fill('copilot');
    await dialog.getByPlaceholder('https://github.com (or your GitHub Enterprise)').fill(githubUrl);
    await dialog.getByTestId('f-api-key').fill(`keychain:${keyName}-github`);
    await shot(page, 'dialog-copilot');
    await dialog.getByTestId('f-save').click();
    await dialog.waitFor({ state: 'detached' });
    const copilot = page.locator('[data-testid="provider"][data-name="copilot"]');
    await copilot.getByTestId('copilot-login-button').click();
    const code = await page.getByTestId('copilot-code').innerText();
    check('the Copilot login shows the device code', code.trim() === 'ABCD-1234', code);
    await shot(page, 'copilot-code');
    await page.getByTestId('copilot-login').getByText('Logged in').waitFor({ timeout: 30_000 });
    check('the Copilot login finishes and stores the token', cli('keys', 'list').includes(`${keyName}-github`));
    await shot(page, 'copilot-done');
    await copilot.getByTestId('models').click();
    await copilot.getByTestId('model-list').getByText('gpt-4o').waitFor();
    check("Copilot's models are listed after the login", true);

    // Edit dialog keeps fields it does not show.
    await row.getByTestId('edit').click();
    await dialog.waitFor();
    await shot(page, 'dialog-edit');
    await page.getByRole('button', { name: 'Cancel' }).click();

    check('no script errors on the providers pages', pageErrors.length === 0, pageErrors.join('; '));
    const gatewayLog = gateway.log.join('');
    check('the key never appears in the gateway log', !gatewayLog.includes(secret));
    for (const k of [keyName, `${keyName}-github`]) {
      try {
        cli('keys', 'rm', k);
      } catch {
        // already gone
      }
    }
    await context.close();
  } finally {
    await browser.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === here) {
  if (!existsSync(SWITCHBOARD) || !existsSync(MOCK)) {
    console.error(`FAIL [providers] binaries missing: ${SWITCHBOARD}, ${MOCK}`);
    process.exit(1);
  }
  main()
    .catch((e) => {
      failures++;
      console.error(`FAIL [providers] ${e.stack ?? e}`.split('\n').join(' | '));
    })
    .finally(() => {
      for (const child of children) child.kill('SIGTERM');
      console.error(`[providers] ${count} checks, ${failures} failed`);
      process.exit(failures ? 1 : 0);
    });
}
