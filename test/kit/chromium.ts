// Debian's Chromium for the dashboard's end-to-end tests, driven by playwright-core (installed by
// scripts/install-test-deps.mjs): headless, no sandbox (tests run as root here), and none of the
// background traffic a browser makes on its own (updates, safe browsing, metrics), so a test's
// network is only what the page asks for. Close the browser in `after`; the kit's process
// tracking does not see it, so `launchChromium` also closes it when the test process exits.
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_BINARY = '/usr/bin/chromium';

const QUIET_FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--disable-sync',
  '--metrics-recording-only',
  '--no-first-run',
  '--safebrowsing-disable-auto-update',
];

export async function launchChromium(): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_BINARY, headless: true, args: QUIET_FLAGS });
  const close = (): void => void browser.close().catch(() => undefined);
  process.once('exit', close);
  browser.once('disconnected', () => process.off('exit', close));
  return browser;
}
