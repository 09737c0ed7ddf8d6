// Browser flows of the clients pages, on a gateway of their own (creating a token turns
// tokens on for every model call, which the other flows must not see): client tokens,
// Connect a client and "set it up for me" in a temp HOME, the playground tagged as the
// dashboard in the live log, access settings saved to the file. Called from run.mjs.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export async function run({ browser, check, shot, start, until, freePort, SWITCHBOARD, mockUrl, work }) {
  const home = join(work, 'clients-home');
  const env = {
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local/share'),
    SWITCHBOARD_LOG: 'info',
  };
  mkdirSync(env.XDG_CONFIG_HOME, { recursive: true });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = join(work, 'clients-config.toml');
  const database = join(work, 'clients-data', 'switchboard.db');
  writeFileSync(
    config,
    `# The clients flows' gateway.
listen = "127.0.0.1:${port}"

[server]
# who may reach it
max_body_mb = 8

[database]
capture_bodies = "all"

[providers.mock]
kind = "openai"
base_url = "${mockUrl}/v1"

[aliases.chat]
targets = ["mock/gpt-mock"]

[aliases.other]
targets = ["mock/other-model"]
`,
  );
  const gateway = start(SWITCHBOARD, ['--config', config, 'serve', '--database', database], env);
  try {
    await until('the clients gateway', async () => (await fetch(`${base}/health/liveliness`)).ok);
    const link = execFileSync(SWITCHBOARD, ['--config', config, 'dashboard', '--print-url', '--url', base, '--database', database], { env: { ...process.env, ...env } })
      .toString()
      .trim();
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(link);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();

    // Client tokens: none yet, so loopback calls need none.
    const curl = (token) => {
      const args = ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `${base}/v1/chat/completions`, '-H', 'content-type: application/json', '-d', JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })];
      if (token) args.push('-H', `authorization: Bearer ${token}`);
      return execFileSync('curl', args).toString();
    };
    check('without client tokens a loopback call needs none', curl(null) === '200');
    await page.goto(`${base}/ui/#/tokens`);
    await page.getByTestId('no-tokens').waitFor();
    await shot(page, 'tokens-empty');
    await page.getByTestId('new-token').click();
    await page.getByRole('dialog', { name: 'New client token' }).waitFor();
    await page.getByTestId('token-name').fill('e2e-curl');
    await page.getByLabel('Requests / min').fill('600');
    await shot(page, 'tokens-new-dialog');
    await page.getByTestId('create-token').click();
    const token = (await page.getByTestId('token-value').innerText()).trim();
    check('a created token is shown once with a copy button', token.startsWith('sb-') && (await page.getByTestId('copy-token').count()) === 1, token.slice(0, 6) + '…');
    await page.getByTestId('copy-token').click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check('the copy button copies the token', copied === token);
    await page.locator('[data-testid="token-row"][data-name="e2e-curl"]').waitFor();
    await shot(page, 'tokens-created');
    await page.reload();
    await page.locator('[data-testid="token-row"][data-name="e2e-curl"]').waitFor();
    const again = await page.content();
    check('after a reload the token is not shown again', !again.includes(token));
    check('the file keeps only its hash', !readFileSync(config, 'utf8').includes(token) && readFileSync(config, 'utf8').includes('[tokens.e2e-curl]'));
    check('curl with the new token works', curl(token) === '200');
    check('curl without a token is refused now that tokens exist', curl(null) === '401');
    await until('last used', async () => {
      await page.reload();
      const text = await page.locator('[data-testid="token-row"][data-name="e2e-curl"] [data-testid="last-used"]').innerText();
      return text !== 'never';
    });
    check('the token list says when the token was last used', true);

    // Connect a client: the curl snippet, with the token, replays as it is.
    await page.goto(`${base}/ui/#/connect`);
    await page.getByTestId('client-curl').click();
    await page.getByTestId('connect-token').fill(token);
    await until('the curl snippet with the token', async () => (await page.getByTestId('setup-snippet').innerText()).includes(token));
    const snippet = await page.getByTestId('setup-snippet').innerText();
    const answer = spawnSync('bash', ['-c', snippet]).stdout.toString();
    let replied = null;
    try {
      replied = JSON.parse(answer);
    } catch {
      replied = null;
    }
    check("the Connect page's curl snippet answers as pasted", !!replied?.choices?.length, answer.slice(0, 80));
    await shot(page, 'connect-curl');
    for (const [client, name] of [['openwebui', 'connect-openwebui'], ['codex', 'connect-codex'], ['claude', 'connect-claude']]) {
      await page.getByTestId(`client-${client}`).click();
      await page.locator(`[data-testid="setup"][data-client="${client}"]`).waitFor();
      await shot(page, name);
    }

    // "Set it up for me" for opencode: the diff first, then the file in the temp HOME.
    const opencodePath = join(home, '.config/opencode/opencode.json');
    mkdirSync(join(home, '.config/opencode'), { recursive: true });
    writeFileSync(opencodePath, '{\n  "theme": "dark"\n}\n');
    await page.getByTestId('client-opencode').click();
    await page.locator('[data-testid="setup"][data-client="opencode"]').waitFor();
    await page.getByTestId('show-diff').click();
    const diff = await page.getByTestId('write-diff').innerText();
    check('set it up for me shows the diff before writing', diff.includes('+     "switchboard": {') && readFileSync(opencodePath, 'utf8') === '{\n  "theme": "dark"\n}\n');
    await shot(page, 'connect-opencode-diff');
    await page.getByTestId('write').click();
    const done = await page.getByTestId('write-done').innerText();
    const opencode = JSON.parse(readFileSync(opencodePath, 'utf8'));
    check(
      'set it up for me writes a valid opencode config in HOME and names the backup',
      opencode.provider?.switchboard?.options?.baseURL === `${base}/v1` && opencode.model === 'switchboard/chat' && opencode.theme === 'dark' && done.includes('switchboard-backup-'),
      done,
    );
    await shot(page, 'connect-opencode-written');

    // Playground: the answer comes through the mock, and the live log (filtered to the
    // dashboard client) shows the row.
    const logs = await context.newPage();
    await logs.goto(`${base}/ui/#/logs?client=dashboard`);
    await logs.getByTestId('tail-state').getByText('live').waitFor();
    const before = await logs.getByTestId('log-row').count();
    await page.goto(`${base}/ui/#/playground`);
    await page.getByTestId('prompt').fill('hello from the playground');
    await page.getByTestId('run').click();
    await page.getByTestId('target-0').waitFor();
    await page.getByTestId('row-0').waitFor({ timeout: 5000 });
    const reply = await page.getByTestId('answer-0').innerText();
    const target = await page.getByTestId('target-0').innerText();
    check('the playground answers through the mock and names the target', reply.trim().length > 0 && target === 'mock/gpt-mock', `${target}: ${reply.slice(0, 40)}`);
    const stats = await page.getByTestId('stats-0').innerText();
    check('the playground shows first-token time, tokens and cost', /First token/.test(stats) && /Tokens \d+ in/.test(stats) && /Cost/.test(stats), stats);
    await shot(page, 'playground');
    await until('the playground row in the live log', async () => (await logs.getByTestId('log-row').count()) > before);
    const tagged = await (await fetch(`${base}/admin/requests?client=dashboard`, { headers: { cookie: (await context.cookies(base)).map((c) => `${c.name}=${c.value}`).join('; ') } })).json();
    check('the playground row is in the live log, tagged as the dashboard', tagged.rows?.length >= 1 && tagged.rows.every((r) => r.client === 'dashboard'));
    await shot(logs, 'logs-dashboard-client');
    await logs.close();
    await page.getByTestId('compare').check();
    await page.getByTestId('pane-alias-1').selectOption('other');
    await page.getByTestId('run').click();
    await until('both answers', async () => (await page.getByTestId('target-1').count()) === 1 && (await page.getByTestId('target-1').innerText()) === 'mock/other-model');
    await page.getByTestId('row-1').waitFor({ timeout: 5000 });
    check('two aliases answer side by side', true);
    await shot(page, 'playground-compare');

    // Replay a logged request on another alias from its detail page.
    const outside = await (await fetch(`${base}/admin/requests?limit=50`, { headers: { cookie: (await context.cookies(base)).map((c) => `${c.name}=${c.value}`).join('; ') } })).json();
    const curlRow = outside.rows.find((r) => r.client === 'e2e-curl');
    await page.goto(`${base}/ui/#/request/${curlRow.id}`);
    await page.getByTestId('replay-in-playground').click();
    await page.getByTestId('replaying').waitFor();
    await page.getByTestId('pane-alias-0').selectOption('other');
    await page.getByTestId('run').click();
    await until('the replay', async () => (await page.getByTestId('target-0').count()) === 1 && (await page.getByTestId('target-0').innerText()) === 'mock/other-model');
    check('a logged request replays on another alias', true);
    await shot(page, 'playground-replay');

    // Access settings: one click for Obsidian, saved to the file with its comments.
    await page.goto(`${base}/ui/#/access`);
    await page.getByTestId('obsidian').click();
    await page.getByTestId('lan-on').check();
    await shot(page, 'access');
    await page.getByTestId('lan-on').uncheck();
    await page.getByTestId('save-access').click();
    await page.getByTestId('access-saved').waitFor();
    const saved = readFileSync(config, 'utf8');
    check('access settings: the added origin is in the file, comments kept', saved.includes('cors_origins = ["app://obsidian.md"]') && saved.includes('# who may reach it'), saved.match(/cors_origins.*/)?.[0]);
    const preflight = await fetch(`${base}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'app://obsidian.md', 'access-control-request-method': 'POST' } });
    check('the saved origin is live at once (CORS preflight allowed)', preflight.headers.get('access-control-allow-origin') === 'app://obsidian.md');

    // Revoke: the token stops working (a second token keeps tokens on).
    const cookie = (await context.cookies(base)).map((c) => `${c.name}=${c.value}`).join('; ');
    const listing = await (await fetch(`${base}/admin/clients`, { headers: { cookie } })).json();
    const keeper = await fetch(`${base}/admin/tokens`, {
      method: 'POST',
      headers: { cookie, origin: base, 'x-switchboard-csrf': '1', 'content-type': 'application/json', 'if-match': `"${listing.revision}"` },
      body: JSON.stringify({ name: 'keeper' }),
    });
    check('a second token is made through the same API', keeper.status === 201, `got ${keeper.status}`);
    await page.goto(`${base}/ui/#/tokens`);
    await page.locator('[data-testid="token-row"][data-name="e2e-curl"]').getByTestId('revoke').click();
    await shot(page, 'tokens-revoke-confirm');
    await page.getByTestId('confirm-revoke').click();
    await page.locator('[data-testid="token-row"][data-name="e2e-curl"]').waitFor({ state: 'detached' });
    check('a revoked token is gone from the file and refused', !readFileSync(config, 'utf8').includes('[tokens.e2e-curl]') && curl(token) === '401');
    await shot(page, 'tokens-after-revoke');
    check('no script errors on the clients pages', errors.length === 0, errors.join('; '));
    await context.close();
  } finally {
    gateway.child.kill('SIGTERM');
  }
}
