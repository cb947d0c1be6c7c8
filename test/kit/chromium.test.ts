// The Chromium launcher works here: a headless page loads moat's admin listener and reads what it
// serves (the dashboard's end-to-end tests build on this).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchChromium } from './chromium.js';
import { moatListener, startMoat } from './moat.js';

test('chromium: a headless page reads /healthz from a moat admin listener', async () => {
  const moat = await startMoat({ config: 'listener 0 127.0.0.1\nallow_anonymous true\nadmin_listener 0\n' });
  const browser = await launchChromium();
  try {
    const admin = await moatListener(moat, 'admin-http');
    const page = await browser.newPage();
    const response = await page.goto(`http://${admin.host}:${admin.port}/healthz`);
    assert.equal(response?.status(), 200);
    assert.match(await page.content(), /ok/i);
  } finally {
    await browser.close();
    await moat.stop();
  }
});
