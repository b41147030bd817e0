import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JudgeHeadSchema } from '../src/bundle/judge-head.ts';
import { synthBundle } from '../src/synth/synth-bundle.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../bin/verdict.mjs');
const verdict = (...args: string[]) => run(process.execPath, [BIN, ...args], { cwd: root });

let root: string;
let bundle: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'judge-cli-'));
  bundle = (await synthBundle({ preset: 'tiny', out: join(root, 'tiny'), seed: 2 })).dir;
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('verdict judge CLI', () => {
  it('mine → collect → train writes data, a store, judge.json and its PR plot, and prints the metrics', async () => {
    await writeFile(join(root, 'prompts.txt'), ' bram tosh\n{"prompt": "menka tralo"}\n plouch ston\n shai dea\n');
    const mine = await verdict('judge', 'mine', '--bundle', bundle, '--prompts', 'prompts.txt', '--out', 'data.jsonl', '--rule', 'topk:3', '--k', '4', '--max-tokens', '20');
    expect(mine.stdout).toMatch(/wrote data\.jsonl: \d+ records, \d+ labelled draft tokens from 4 prompts/);
    expect(mine.stdout).toMatch(/exact rule \d\.\d\d, a perfect judge for topk:3 \d\.\d\d/);
    const collect = await verdict('judge', 'collect', '--bundle', bundle, '--data', 'data.jsonl', '--out', 'emb');
    expect(collect.stdout).toMatch(/wrote emb: \d+ hidden states/);
    const train = await verdict('judge', 'train', '--emb', 'emb', '--out', 'heads/judge.json', '--recall', '0.9');
    expect(train.stdout).toMatch(/held-out, all tokens \(\d+ correct, \d+ wrong\): precision \d\.\d{3} {2}recall \d\.\d{3} {2}F1 \d\.\d{3} {2}ROC-AUC (\d\.\d{3}|n\/a)/);
    const head = JudgeHeadSchema.parse(JSON.parse(await readFile(join(root, 'heads/judge.json'), 'utf8')));
    expect(head.hidden_size).toBe(64);
    expect(await readFile(join(root, 'heads/judge-pr.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('bad data exits 1 with the file and line, leaving no store', async () => {
    await writeFile(join(root, 'bad.jsonl'), '{"prompt":"a","response":"b"}\n{"prompt":"a",\n');
    const err = await verdict('judge', 'collect', '--bundle', bundle, '--data', 'bad.jsonl', '--out', 'emb-bad').catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/bad\.jsonl:2: malformed JSON/);
    expect(existsSync(join(root, 'emb-bad'))).toBe(false);
  });

  it('train refuses a directory that is not a store', async () => {
    const err = await verdict('judge', 'train', '--emb', 'nowhere', '--out', 'x.json').catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/nowhere: not an embedding store \(no store\.json\); run `verdict judge collect` first/);
    expect(existsSync(join(root, 'x.json'))).toBe(false);
  });
});
