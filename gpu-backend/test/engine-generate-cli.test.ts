import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthBundle } from '../src/synth/synth-bundle.ts';

const exec = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../bin/verdict.mjs');
let root: string;
let dir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'verdict-generate-'));
  dir = (await synthBundle({ preset: 'tiny', out: join(root, 'tiny') })).dir;
});
afterAll(() => rm(root, { recursive: true, force: true }));

const verdict = (...args: string[]) => exec(process.execPath, [BIN, 'generate', '--bundle', dir, '--threads', '1', ...args]);

// Each spawn pays tsx start-up (seconds on a loaded 2-core machine), so three runs cover it all.
describe('verdict generate', () => {
  it('--json prints one JSON object; streaming prints the same text and a stats line on stderr', async () => {
    const exact = await verdict('--prompt', 'hello world', '--mode', 'exact', '--k', '4', '--max-tokens', '16', '--json');
    const lines = exact.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]);
    expect(typeof out.text).toBe('string');
    expect(out.tokens).toHaveLength(16);
    for (const key of ['steps', 'drafted', 'accepted', 'mean_accepted_per_step', 'tokens_per_s', 'draft_ms', 'verify_ms', 'judge_ms']) {
      expect(typeof out.stats[key], key).toBe('number');
    }
    expect(out.stats.drafted).toBeGreaterThan(0);
    // target mode, streamed: the same text (exact at T=0 is token-for-token target)
    const target = await verdict('--prompt', 'hello world', '--mode', 'target', '--max-tokens', '16');
    expect(target.stdout).toBe(`${out.text}\n`);
    expect(target.stderr).toMatch(/\[target\] 16 tokens in 16 steps .* tok\/s/);
  });
  it('fails with a clear message and exit code 1 on bad input', async () => {
    await expect(verdict('--prompt', 'x', '--mode', 'judge')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/judge mode is unavailable.*no judge head/) });
  });
});
