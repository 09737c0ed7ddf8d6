// The dashboard turns to a warning when the request log fails (issue 21): a gateway of its own
// whose log lives on a real 8 MB tmpfs, which the test fills. The Overview's badge must say
// Degraded with the reason readiness gives (the disk is full), while requests are still
// answered; once space returns the log recovers by itself and the badge says Running again.
// Mounting needs root (as in CI and on the dev machines); elsewhere this says it is skipped.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const FILL_CHUNK = Buffer.alloc(64 * 1024);

function mountTmpfs(dir, size) {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Writes one file until the filesystem refuses (ENOSPC). */
function fill(dir) {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  try {
    for (;;) writeSync(fd, FILL_CHUNK);
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  return path;
}

export async function run({ browser, check, shot, start, until, freePort, SWITCHBOARD, mockUrl, work }) {
  const home = join(work, 'degraded-home');
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.local/share'), SWITCHBOARD_LOG: 'warn' };
  mkdirSync(env.XDG_CONFIG_HOME, { recursive: true });
  const disk = mkdtempSync(join(work, 'degraded-tmpfs-'));
  if (!mountTmpfs(disk, '8m')) {
    console.error('skipped: the log-failure check cannot mount a tmpfs here (needs root)');
    return;
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = join(work, 'degraded-config.toml');
  const database = join(disk, 'switchboard.db');
  writeFileSync(
    config,
    `listen = "127.0.0.1:${port}"

[providers.mock]
kind = "openai"
base_url = "${mockUrl}/v1"

[aliases.chat]
targets = ["mock/gpt-mock"]

[prices."mock/gpt-mock"]
input = 1
output = 1
`,
  );
  const gateway = start(SWITCHBOARD, ['--config', config, 'serve', '--database', database], env);
  const readiness = async () => {
    const r = await fetch(`${base}/health/readiness`);
    return { status: r.status, body: await r.json() };
  };
  const chat = async (i) => {
    const r = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `degraded ${i} ${'x'.repeat(400)}` }] }),
    });
    await r.text();
    return r.status;
  };
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    await until('the degraded-check gateway', async () => (await fetch(`${base}/health/liveliness`)).ok);
    const link = execFileSync(SWITCHBOARD, ['--config', config, 'dashboard', '--print-url', '--url', base, '--database', database], { env: { ...process.env, ...env } })
      .toString()
      .trim();
    const page = await context.newPage();
    await page.goto(link);
    const badge = (state) => page.locator(`[data-testid="run-state"][data-state="${state}"]`);
    await badge('running').waitFor({ timeout: 15_000 });
    check('log on a tmpfs: the Overview says Running while the log writes', true);

    // The disk fills: requests are still answered while the log's writes fail.
    const filler = fill(disk);
    let sent = 0;
    let refused = 0;
    const failing = await until(
      'readiness to report the log failing',
      async () => {
        for (let k = 0; k < 20; k++) if ((await chat(sent++)) !== 200) refused++;
        const r = await readiness();
        return r.status === 503 && r.body.database.ok === false ? r : null;
      },
      30_000,
    );
    check('with the disk full every request is still answered', refused === 0, `${sent} sent, ${refused} not 200`);
    const reason = failing.body.database.error ?? '';
    check('readiness turns 503 and names why the log fails', /full/.test(reason), reason);

    await badge('degraded').waitFor({ timeout: 10_000 });
    const label = await badge('degraded').innerText();
    const words = await page.getByTestId('run-words').innerText();
    check('the Overview badge says Degraded while the log fails', label === 'Degraded', label);
    check('the badge sentence gives the reason readiness gives', words.includes('request log is not being written') && /full/.test(words), words);
    const box = await page.getByTestId('log-failing').innerText();
    check('the Overview shows the log failure with its reason', /full/.test(box), box);
    const title = await page.title();
    check('the window title says degraded too (the tray window shows it)', /degraded/.test(title), title);
    await shot(page, 'overview-degraded');

    // Space returns: the log reopens by itself and the badge turns back.
    rmSync(filler);
    await until('readiness to recover', async () => (await readiness()).status === 200, 30_000);
    await chat(sent++);
    await badge('running').waitFor({ timeout: 15_000 });
    check('once space returns the log recovers and the badge says Running again', (await page.getByTestId('log-failing').count()) === 0);
    await shot(page, 'overview-recovered');
  } finally {
    await context.close();
    gateway.child.kill('SIGTERM');
    await new Promise((r) => (gateway.child.exitCode !== null ? r() : gateway.child.once('exit', r)));
    try {
      execFileSync('umount', ['-l', disk], { stdio: 'ignore' });
    } catch {
      // Left mounted only if umount itself failed; the temp folder goes with the run.
    }
  }
}
