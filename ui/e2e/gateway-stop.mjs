// The dashboard follows the gateway (issue 16: no stale "Running" after a stop): the gateway
// process is stopped under an open Overview, whose badge must say so within a few seconds (the
// live feed drops, the status poll gets no answer), in words; the Logs tail says disconnected.
// Then the gateway starts again: a restart ends every session, and the page says that too.
// Runs last: it stops the suite's gateway.

const WITHIN_MS = 5000;

export async function badgeFollowsTheGateway({ browser, newLink, stopGateway, startGateway, check, shot }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.goto(newLink());
    const badge = (state) => page.locator(`[data-testid="run-state"][data-state="${state}"]`);
    await badge('running').waitFor();
    check('the Overview says Running while the gateway serves', (await badge('running').innerText()) === 'Running');

    const stoppedAt = Date.now();
    await stopGateway();
    await badge('stopped').waitFor({ timeout: 15_000 });
    const took = Date.now() - stoppedAt;
    const words = await page.getByTestId('run-words').innerText();
    check(`after the gateway stops the Overview says Stopped within ${WITHIN_MS / 1000} s, in words`, took < WITHIN_MS && /not answering/.test(words), `${took} ms: ${words}`);
    const title = await page.title();
    check('the window title names the stop too (the tray window shows it)', /stopped/.test(title), title);
    await shot(page, 'overview-stopped');

    // Same-document navigation: the page is already loaded, the server is gone.
    await page.evaluate(() => (location.hash = '#/logs'));
    await page.getByTestId('tail-state').getByText('disconnected').waitFor({ timeout: 5000 });
    check('the Logs tail says disconnected while the gateway is down', true);
    await shot(page, 'logs-stopped');

    await page.evaluate(() => (location.hash = '#/overview'));
    await badge('stopped').waitFor();
    const restartedAt = Date.now();
    await startGateway();
    await badge('logged-out').waitFor({ timeout: 15_000 });
    const back = Date.now() - restartedAt;
    const again = await page.getByTestId('run-words').innerText();
    check('after a restart the Overview says the session ended, in words', /switchboard dashboard/.test(again), `${back} ms: ${again}`);
    await shot(page, 'overview-after-restart');
  } finally {
    await context.close();
  }
}
