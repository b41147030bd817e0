/**
 * The demo page in a real browser against a stand-in for the gateway's demo routes (test/demo/support/fake-gateway.ts):
 * the page's own behaviour — both panes, colours, figures, chart, cache badge, errors, CSP, keyboard, phone, dark mode.
 * The same page against the real stack (worker + `verdict serve`) is demo-stack.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { buildDemo } from '../../src/demo/build.mjs';
import { startFakeGateway, type FakeGateway } from '../demo/support/fake-gateway.ts';
import { chromiumMissing, openBrowser, type DemoBrowser } from '../demo/support/browser.ts';
import { DEMO_PRESETS } from '../../src/demo/presets.ts';

const OUT = 'test-output/demo';

describe.skipIf(chromiumMissing)('demo page (fake gateway)', () => {
  let gateway: FakeGateway;
  let b: DemoBrowser;

  beforeAll(async () => {
    await buildDemo();
    mkdirSync(OUT, { recursive: true });
    gateway = await startFakeGateway();
    b = await openBrowser();
  });
  afterAll(async () => {
    await b?.close();
    await gateway?.close();
  });

  it('runs a preset in both panes with coloured tokens, figures, a chart, then replays it from the cache', async () => {
    const { page } = b;
    await page.goto(gateway.url + '/');
    await page.locator('#model', { hasText: 'model: fake-tiny' }).waitFor();
    await page.locator(`[data-preset="${DEMO_PRESETS[0].id}"]`).click();
    for (const side of ['a', 'b']) await page.locator(`#pane-${side}[data-state="done"]`).waitFor({ timeout: 20_000 });

    for (const side of ['a', 'b']) {
      const pane = page.locator(`#pane-${side}`);
      expect(await pane.locator('.output span.tok-target').count()).toBeGreaterThan(0);
      expect(await pane.locator('.output span.tok-draft').count()).toBeGreaterThan(0);
      expect(await pane.getAttribute('data-cache')).toBe('miss');
      for (const dd of await pane.locator('.figures dd').allTextContents()) expect(dd).not.toBe('—');
      expect(await pane.locator('.bar-row').count()).toBe(7);
    }
    expect(await page.locator('#pane-b .output span.tok-judge').count()).toBeGreaterThan(0);
    expect(await page.locator('#pane-a .output span.tok-judge').count()).toBe(0);
    await page.locator('#verdict:not([hidden])').waitFor();
    await page.screenshot({ path: `${OUT}/fake-first-run.png`, fullPage: true });

    await page.locator('#run').click();
    for (const side of ['a', 'b']) await page.locator(`#pane-${side}[data-state="done"][data-cache="hit"]`).waitFor({ timeout: 20_000 });
    expect(await page.locator('#pane-a .badge').textContent()).toContain('edge cache hit');
    expect(gateway.requests.every((r) => r.replay === 'recorded' && r.path.startsWith('/demo/v1/chat/completions'))).toBe(true);
    await page.screenshot({ path: `${OUT}/fake-cache-hit.png`, fullPage: true });
    expect(b.problems).toEqual([]);
  });

  it('regenerates the preset at T = 0.7: the cached answer is the draft, its tokens coloured as prediction', async () => {
    const { page } = b;
    // The first test ran this preset at T = 0, so the (fake) gateway holds its answer.
    await page.locator('#regenerate:enabled').click();
    for (const side of ['a', 'b']) await page.locator(`#pane-${side}[data-state="done"][data-cache="draft"]`).waitFor({ timeout: 20_000 });
    for (const side of ['a', 'b']) {
      const pane = page.locator(`#pane-${side}`);
      expect(await pane.locator('.output span.tok-prediction').count()).toBeGreaterThan(0);
      expect(await pane.locator('.badge').textContent()).toContain('cached answer as the draft');
      expect(await pane.locator('.mix').textContent()).toMatch(/prediction \d+/);
    }
    const sent = gateway.requests.slice(-2).map((r) => (r.body as { temperature: number }).temperature);
    expect(sent).toEqual([0.7, 0.7]);
    // a swatch in the legend, coloured unlike the others
    const colour = (sel: string) => page.locator(sel).first().evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(await colour('.legend .tok-prediction')).not.toBe(await colour('.legend .tok-draft'));
    await page.screenshot({ path: `${OUT}/fake-regenerate.png`, fullPage: true });
    expect(b.problems).toEqual([]);
  });

  it('shows a readable error when rate limited, and recovers on the next run', async () => {
    const { page } = b;
    gateway.failNext(429, '17');
    await page.locator('#prompt').fill('A prompt nobody asked before');
    await page.locator('#prompt').press('Control+Enter');
    await page.locator('.pane .error', { hasText: /Rate limited.*in 17 s/ }).first().waitFor();
    await page.locator('#run:enabled').waitFor();
    await page.locator('#run').click();
    for (const side of ['a', 'b']) await page.locator(`#pane-${side}[data-state="done"]`).waitFor({ timeout: 20_000 });
    expect(b.problems.filter((p) => !p.includes('429'))).toEqual([]);
  });

  it('works from the keyboard alone: Tab to a preset, Enter runs it', async () => {
    const { page } = b;
    await page.goto(gateway.url + '/');
    await page.locator('#model', { hasText: 'model: fake-tiny' }).waitFor();
    // Skip link, then the first preset button.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.className)).toBe('skip');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.preset)).toBe(DEMO_PRESETS[0].id);
    await page.keyboard.press('Enter');
    for (const side of ['a', 'b']) await page.locator(`#pane-${side}[data-state="done"]`).waitFor({ timeout: 20_000 });
  });

  it('fits a phone screen in dark mode without sideways scrolling', async () => {
    const { page } = b;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'dark' });
    try {
      await page.goto(gateway.url + '/');
      await page.locator('#model', { hasText: 'model: fake-tiny' }).waitFor();
      await page.locator(`[data-preset="${DEMO_PRESETS[2].id}"]`).click();
      for (const side of ['a', 'b']) await page.locator(`#pane-${side}[data-state="done"]`).waitFor({ timeout: 20_000 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(17, 19, 22)');
      await page.screenshot({ path: `${OUT}/fake-phone-dark.png`, fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.emulateMedia({ colorScheme: 'light' });
    }
  });

  it('Stop ends both streams, says so, and the gateway sees the client leave', async () => {
    const { page } = b;
    gateway.setStepMs(300);
    try {
      await page.locator('#prompt').fill('A slow one, to be stopped');
      await page.locator('#run').click();
      await page.locator('#pane-a .output span').first().waitFor();
      await page.locator('#stop').click();
      for (const side of ['a', 'b']) await page.locator(`#pane-${side} .error`, { hasText: 'Stopped.' }).waitFor();
      await page.locator('#run:enabled').waitFor();
      const deadline = Date.now() + 5000;
      while (gateway.abandoned < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(gateway.abandoned).toBe(2);
    } finally {
      gateway.setStepMs(25);
    }
  });

  it('says the backend is down on a 503', async () => {
    const { page } = b;
    gateway.failNext(503);
    await page.locator('#run').click();
    await page.locator('.pane .error', { hasText: 'backend is down or busy' }).first().waitFor();
  });
});
