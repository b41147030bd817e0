/**
 * "Bring your own model" as the README tells it, on the real TinyStories pair in ../shared: the `verdict import`
 * and `verdict generate` commands as a user runs them, then the imported bundle behind the real stack
 * (verdict serve + the worker in Miniflare) with the demo page in Chromium showing its text.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemo } from '../../src/demo/build.mjs';
import { chromiumMissing, openBrowser, type DemoBrowser } from '../demo/support/browser.ts';
import { HAVE_PLE, PLE } from '../../gpu-backend/test/shared-models.ts';
import { startBackend, startGatewayFor, type Backend, type Gateway } from './gateway-stack.ts';
import { DEMO_PRESETS } from '../../src/demo/presets.ts';

const run = promisify(execFile);
const VERDICT = fileURLToPath(new URL('../../gpu-backend/bin/verdict.mjs', import.meta.url));
const OUT = 'test-output/demo';
/** Words any TinyStories text is full of; the synthetic models' pseudo-words are none of them. */
const ENGLISH = /\b(the|and|was|to|a|she|he|they|little)\b/gi;

describe.skipIf(!HAVE_PLE)('bring your own model: the real TinyStories pair', () => {
  let root: string;
  let bundle: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'verdict-byom-'));
    bundle = join(root, 'ple');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('`verdict import` writes a bundle with hidden_states', async () => {
    const { stdout } = await run(process.execPath, [VERDICT, 'import', '--target', PLE.c3M, '--draft', PLE.c1M, '--out', bundle]);
    expect(stdout).toContain('hidden_states = /model/norm/Mul_1_output_0');
    const manifest = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8'));
    expect(manifest.target.has_hidden_states).toBe(true);
  });

  it('`verdict generate --mode exact` writes a story, and equals target mode', async () => {
    const gen = async (mode: string) =>
      JSON.parse((await run(process.execPath, [VERDICT, 'generate', '--bundle', bundle, '--mode', mode, '--max-tokens', '48', '--threads', '1', '--json'])).stdout);
    const exact = await gen('exact');
    const target = await gen('target');
    expect(exact.tokens).toEqual(target.tokens);
    expect(exact.text).toMatch(/Once upon a time/);
    expect(exact.stats.mean_accepted_per_step).toBeGreaterThan(1.5);
  });

  describe.skipIf(chromiumMissing)('served, with the demo page', () => {
    let backend: Backend;
    let gateway: Gateway;
    let b: DemoBrowser;

    beforeAll(async () => {
      mkdirSync(OUT, { recursive: true });
      await buildDemo();
      backend = await startBackend(bundle);
      gateway = await startGatewayFor([backend], []);
      b = await openBrowser();
    });
    afterAll(async () => {
      await b?.close();
      await gateway?.stop();
      await backend?.kill();
    });

    it('streams English into both panes (judge falls back to exact: the freshly imported pair has no head yet)', async () => {
      const { page } = b;
      await page.goto(gateway.url + '/');
      await page.locator('#model', { hasText: 'model: ple-c3M-s0' }).waitFor();
      await page.locator(`[data-preset="${DEMO_PRESETS[0].id}"]`).click();
      for (const side of ['a', 'b']) await page.locator(`#pane-${side}[data-state="done"]`).waitFor({ timeout: 60_000 });
      for (const side of ['a', 'b']) {
        const text = (await page.locator(`#pane-${side} .output`).textContent()) ?? '';
        expect(text.match(ENGLISH)?.length ?? 0, `English words in pane ${side}: ${text.slice(0, 200)}`).toBeGreaterThan(5);
      }
      await page.screenshot({ path: `${OUT}/real-pair.png`, fullPage: true });
      expect(b.problems).toEqual([]);
    });
  });

  describe.skipIf(chromiumMissing)('with a judge head trained by `verdict judge bundle`, the judge pane shows the tokens exact rejected', () => {
    let backend: Backend;
    let gateway: Gateway;
    let b: DemoBrowser;

    beforeAll(async () => {
      // The real-pair defaults (selfjudge labels on the committed openings), at a CI-sized 8 openings × 24 tokens.
      const { stdout } = await run(process.execPath, [VERDICT, 'judge', 'bundle', bundle, '--prompts', '8', '--max-tokens', '24'], { timeout: 240_000 });
      expect(stdout).toContain('selfjudge');
      mkdirSync(OUT, { recursive: true });
      await buildDemo();
      backend = await startBackend(bundle);
      gateway = await startGatewayFor([backend], []);
      b = await openBrowser();
    }, 300_000);
    afterAll(async () => {
      await b?.close();
      await gateway?.stop();
      await backend?.kill();
    });

    it('the judge pane has .tok-judge spans (kept only by the judge); the exact pane has none', async () => {
      const { page } = b;
      await page.goto(gateway.url + '/');
      await page.locator('#model', { hasText: 'model: ple-c3M-s0' }).waitFor();
      expect(await page.locator('#mode-b').inputValue()).toBe('judge');
      await page.locator(`[data-preset="${DEMO_PRESETS[0].id}"]`).click();
      for (const side of ['a', 'b']) await page.locator(`#pane-${side}[data-state="done"]`).waitFor({ timeout: 60_000 });
      expect(await page.locator('#pane-b .output span.tok-judge').count()).toBeGreaterThan(0);
      expect(await page.locator('#pane-a .output span.tok-judge').count()).toBe(0);
      await page.screenshot({ path: `${OUT}/real-pair-judge.png`, fullPage: true });
      expect(b.problems).toEqual([]);
    });
  });
});
