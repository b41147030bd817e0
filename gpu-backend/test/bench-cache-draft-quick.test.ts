import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { synthBundle } from '../src/synth/synth-bundle.ts';

const run = promisify(execFile);
const VERDICT = fileURLToPath(new URL('../bin/verdict.mjs', import.meta.url));

describe('verdict bench --cache-draft --quick', () => {
  it('regenerates through a gateway with CACHE_AS_DRAFT on and one with it off, every answer with the right X-Cache', async () => {
    const root = await mkdtemp(join(tmpdir(), 'verdict-cache-draft-'));
    try {
      const { dir } = await synthBundle({ preset: 'tiny', out: join(root, 'tiny'), seed: 0 });
      const { stdout } = await run(process.execPath, [VERDICT, 'bench', '--cache-draft', '--quick', '--json', '--bundle', dir, '--max-tokens', '16'], { timeout: 240_000 });
      const r = JSON.parse(stdout);
      expect(r.model).toBe('synth-tiny');
      for (const arm of [r.summary.on, r.summary.off]) {
        expect(arm.requests).toBe(2); // 2 prompts × 1 regeneration
        expect(arm.tokens).toBeGreaterThan(0);
        expect(arm.wrong_cache_header).toBe(0);
      }
      expect(r.summary.off.accepted_prediction_tokens).toBe(0); // no draft without the feature
      expect(r.summary.ratio).toBeCloseTo(r.summary.on.tokens_per_s / r.summary.off.tokens_per_s, 6);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 300_000);
});
