/**
 * The demo page on the real local stack — the worker in Miniflare (wrangler.toml: static assets + gateway) in front
 * of a real `verdict serve` on the tiny synthetic bundle — driven by headless chromium: the page loads with no
 * console errors, a preset runs in both panes, coloured tokens appear in both, the figures fill in, a second run of
 * the same preset comes from the edge cache (badge), and a screenshot is saved under test-output/demo/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { buildDemo } from '../../src/demo/build.mjs';
import { chromiumMissing, openBrowser, type DemoBrowser } from '../demo/support/browser.ts';
import { startBackend, startGatewayFor, synthTinyBundle, type Backend, type Gateway } from './gateway-stack.ts';
import { DEMO_PRESETS } from '../../src/demo/presets.ts';

const OUT = 'test-output/demo';

describe.skipIf(chromiumMissing)('demo page on the local stack (worker + verdict serve)', () => {
  let bundle: Awaited<ReturnType<typeof synthTinyBundle>>;
  let backend: Backend;
  let gateway: Gateway;
  let b: DemoBrowser;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    await buildDemo();
    bundle = await synthTinyBundle();
    backend = await startBackend(bundle.dir);
    gateway = await startGatewayFor([backend], []);
    b = await openBrowser();
  });
  afterAll(async () => {
    await b?.close();
    await gateway?.stop();
    await backend?.kill();
    await bundle?.cleanup();
  });

  it('streams a preset in both panes, then replays it from the edge cache', async () => {
    const { page } = b;
    const response = await page.goto(gateway.url + '/');
    expect(response?.status()).toBe(200);
    expect(await response?.headerValue('content-security-policy')).toContain("script-src 'self'");
    await page.locator('#model', { hasText: 'model: ' }).waitFor();

    const preset = DEMO_PRESETS[1];
    await page.locator(`[data-preset="${preset.id}"]`).click();
    for (const side of ['a', 'b']) await page.locator(`#pane-${side}[data-state="done"]`).waitFor({ timeout: 60_000 });
    for (const side of ['a', 'b']) {
      const pane = page.locator(`#pane-${side}`);
      expect(await pane.locator('.output span[class^="tok-"]').count(), `coloured tokens in pane ${side}`).toBeGreaterThan(0);
      expect(await pane.getAttribute('data-cache')).toBe('miss');
      const [ttft, rate, perStep, tokens] = await pane.locator('.figures dd').allTextContents();
      expect(ttft).toMatch(/\d+(\.\d+)? m?s/);
      expect(Number(tokens)).toBeGreaterThan(1);
      expect(Number(perStep)).toBeGreaterThanOrEqual(1);
      expect(rate).toMatch(/^\d+$/);
      expect(await pane.locator('.bar-row').count()).toBeGreaterThanOrEqual(5);
    }
    await page.screenshot({ path: `${OUT}/stack-first-run.png`, fullPage: true });

    await page.locator('#run').click();
    for (const side of ['a', 'b']) await page.locator(`#pane-${side}[data-state="done"][data-cache="hit"]`).waitFor({ timeout: 60_000 });
    expect(await page.locator('#pane-b .badge').textContent()).toContain('edge cache hit');
    await page.screenshot({ path: `${OUT}/stack-cache-hit.png`, fullPage: true });
    expect(b.problems).toEqual([]);
  });
});
