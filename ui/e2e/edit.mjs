// The config editor in the browser, against the real `switchboard serve` that run.mjs started
// (called from run.mjs with its page, logged in). The config file first gets hand-written
// comments (a hand edit the gateway reloads); then: create an alias in the GUI → the diff shows
// it → after save the file has it and every comment → a request through it answers via the
// mock → it shows in the live log; a hand edit appears in the open page; a stale save is
// refused; undo restores the file; a budget made in the GUI lands on disk.
import { readFileSync, writeFileSync } from 'node:fs';

const COMMENTS = ['# Hand-written: the GUI must keep every comment in this file.', '# The alias curl uses.', '# five dollars a day', '# (trailing comment at the end)'];

/** The lines of one `[table]` of a TOML text, up to the next table header. */
function tableOf(text, header) {
  const start = text.indexOf(`\n${header}\n`);
  if (start < 0) return '';
  const rest = text.slice(start + header.length + 2);
  const end = rest.search(/\n\[/);
  return end < 0 ? rest : rest.slice(0, end);
}

export async function editorFlows({ page, base, config, check, shot, until }) {
  const read = () => readFileSync(config, 'utf8');
  const adminGet = async (path) => (await page.request.get(`${base}${path}`)).json();
  const revision = async () => (await adminGet('/admin/config')).revision;
  const handEdit = async (text) => {
    const before = await revision();
    writeFileSync(config, text);
    // The gateway reloads a hand edit by itself (its watcher); wait until it serves it.
    await until('the hand edit to be served', async () => {
      const now = await revision();
      return now !== before && (await adminGet('/admin/status')).readiness.config_file.revision === now;
    });
  };
  const keepsComments = (text) => COMMENTS.every((c) => text.includes(c));

  let text = read();
  text = `${COMMENTS[0]}\n${text}`
    .replace('[aliases.chat]', `${COMMENTS[1]}\n[aliases.chat]`)
    .replace('usd = 5\n', `usd = 5   ${COMMENTS[2]}\n`);
  await handEdit(`${text}\n${COMMENTS[3]}\n`);

  // Create an alias from the GUI; inline validation first.
  await page.goto(`${base}/ui/#/aliases`);
  await page.locator('[data-testid="alias-row"][data-alias="chat"]').waitFor();
  await shot(page, 'aliases');
  await page.getByTestId('new-alias').click();
  await page.getByTestId('alias-name').fill('e2e/gui');
  await page.getByTestId('target-provider').first().selectOption('mock');
  await page.getByTestId('target-model').first().fill('gpt-mock');
  await page.getByLabel('Weight').first().fill('0');
  const weightError = await page.getByTestId('field-error').filter({ hasText: 'weight' }).first().textContent({ timeout: 5000 });
  check('the editor shows the validator’s error at its field as you type', true, weightError ?? '');
  await shot(page, 'alias-editor-error');
  await page.getByLabel('Weight').first().fill('');
  await page.getByTestId('valid').waitFor();
  const diff = await page.getByTestId('diff').innerText();
  check('the diff shows the new alias before saving', diff.includes('[aliases."e2e/gui"]') && diff.includes('mock/gpt-mock'), diff.split('\n').slice(0, 6).join(' | '));
  check('nothing is written before Save', !read().includes('e2e/gui'));
  await shot(page, 'alias-editor');
  await page.getByTestId('save').click();
  await page.getByTestId('flash').waitFor();
  const afterSave = read();
  check('after save the file on disk has the alias and every original comment', afterSave.includes('[aliases."e2e/gui"]') && keepsComments(afterSave));

  // A request through the new alias answers via the mock and shows in the live log.
  await page.goto(`${base}/ui/#/logs`);
  await page.getByTestId('tail-state').getByText('live').waitFor();
  const correlation = `e2e-gui-${Date.now()}`;
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-correlation-id': correlation },
    body: JSON.stringify({ model: 'e2e/gui', messages: [{ role: 'user', content: 'through the GUI alias' }] }),
  });
  const answer = await r.json();
  check('a request through the GUI-made alias answers via the mock', r.ok && answer.choices?.length > 0, `status ${r.status}`);
  await page.locator(`[data-correlation="${correlation}"]`).waitFor({ timeout: 5000 });
  check('the request shows in the live log', true);

  // A hand edit shows in the open page without a reload.
  await page.goto(`${base}/ui/#/aliases`);
  await page.locator('[data-testid="alias-row"][data-alias="e2e/gui"]').waitFor();
  await handEdit(`${read()}\n[aliases.handmade]\ntargets = ["mock/gpt-mock"]\n`);
  await page.locator('[data-testid="alias-row"][data-alias="handmade"]').waitFor({ timeout: 5000 });
  check('a hand edit of the file appears in the open page without a reload', true);

  // Stale: start editing, the file changes on disk, Save is refused; re-apply, then it saves.
  await page.locator('[data-testid="alias-row"][data-alias="e2e/gui"]').getByTestId('edit-alias').click();
  await page.getByLabel('Description').fill('set in the GUI');
  await page.getByTestId('valid').waitFor();
  const beforeStale = read().replace('[aliases.handmade]', '[aliases.handmade]\ndescription = "by hand"');
  await handEdit(beforeStale);
  await page.getByTestId('save').click();
  const refusal = await page.getByTestId('save-problem').innerText({ timeout: 5000 });
  check('a stale save is refused with “the file changed on disk”', refusal.includes('the file changed on disk') && read() === beforeStale, refusal);
  await page.getByTestId('stale').waitFor();
  const onDisk = await page.getByTestId('disk-diff').innerText({ timeout: 5000 });
  check('the stale editor shows what changed on disk', onDisk.includes('description = "by hand"'), onDisk.split('\n').filter((l) => l.includes('by hand')).join(' | '));
  await shot(page, 'alias-stale');
  await page.getByTestId('rebase').click();
  await page.getByTestId('valid').waitFor();
  await page.getByTestId('save').click();
  await page.getByTestId('flash').waitFor();
  const rebased = read();
  check('after review the change saves on the new version, keeping the hand edit', rebased.includes('description = "set in the GUI"') && rebased.includes('description = "by hand"') && keepsComments(rebased));

  // The delete dialog shows its diff too (cancelled).
  await page.locator('[data-testid="alias-row"][data-alias="handmade"]').getByTestId('delete-alias').click();
  await page.getByRole('dialog', { name: 'Delete alias' }).getByTestId('diff').waitFor();
  await shot(page, 'alias-delete');
  await page.getByRole('button', { name: 'Cancel' }).click();

  // Undo the last save from Versions: the file is back to the hand-edited text.
  await page.goto(`${base}/ui/#/versions`);
  await page.getByTestId('version-row').first().waitFor();
  await page.getByTestId('view-version').first().click();
  await page.getByTestId('version').getByTestId('diff').waitFor();
  await shot(page, 'versions');
  await page.getByTestId('undo').click();
  await page.getByTestId('flash').waitFor();
  check('undo restores the file as it was before the last save', read() === beforeStale);
  const restoredOnce = await until('the restore listed', async () => (await adminGet('/admin/config/history')).versions[0]?.summary.startsWith('restored') && true);
  check('the undo is itself kept, so it can be undone', restoredOnce === true);

  // A budget from the GUI lands on disk.
  await page.goto(`${base}/ui/#/limits`);
  await page.getByTestId('new-budget').click();
  await page.getByTestId('entry-name').fill('e2e-weekly');
  await page.getByTestId('budget-usd').fill('12');
  await page.getByTestId('budget-period').selectOption('week');
  await page.getByTestId('valid').waitFor();
  await shot(page, 'limits-editor');
  await page.getByTestId('save').click();
  await page.getByTestId('flash').waitFor();
  const withBudget = read();
  check('a budget created in the GUI is in the file', withBudget.includes('[budgets.e2e-weekly]') && withBudget.includes('usd = 12') && withBudget.includes('period = "week"') && keepsComments(withBudget));
  await page.locator('[data-testid="budget-row"][data-name="e2e-weekly"]').waitFor();

  // Limits: on an alias, and a new tenant with limits and the new budget.
  await page.locator('[data-testid="limits-row"][data-section="aliases"][data-name="other"]').getByTestId('edit-limits').click();
  await page.getByTestId('limit-rpm').fill('600');
  await page.getByTestId('valid').waitFor();
  await page.getByTestId('save').click();
  await page.getByTestId('flash').waitFor();
  await page.getByTestId('new-tenant').click();
  await page.getByTestId('entry-name').fill('team');
  await page.getByTestId('limit-concurrent').fill('4');
  await page.getByLabel('Budget').selectOption('e2e-weekly');
  await page.getByTestId('valid').waitFor();
  await page.getByTestId('save').click();
  await page.getByTestId('flash').waitFor();
  const withLimits = read();
  check(
    'limits on an alias and a new tenant from the GUI are in the file',
    tableOf(withLimits, '[aliases.other]').includes('limits = { rpm = 600 }') && tableOf(withLimits, '[tenants.team]').includes('budget = "e2e-weekly"') && keepsComments(withLimits),
    tableOf(withLimits, '[tenants.team]').replaceAll('\n', ' '),
  );
  await shot(page, 'limits');
}
