import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tinyBundleFixture } from './judge-fixtures.ts';
import { JudgeHeadSchema } from '../src/bundle/judge-head.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../bin/verdict.mjs');
const verdict = (...args: string[]) => run(process.execPath, [BIN, ...args], { cwd: fx.root });

const fx = tinyBundleFixture('judge-cli-', 2);

describe('verdict judge CLI', () => {
  it('mine → collect → train writes data, a store, judge.json and its PR plot, and prints the metrics', async () => {
    await writeFile(join(fx.root, 'prompts.txt'), ' bram tosh\n{"prompt": "menka tralo"}\n plouch ston\n shai dea\n');
    const mine = await verdict('judge', 'mine', '--bundle', fx.dir, '--prompts', 'prompts.txt', '--out', 'data.jsonl', '--rule', 'topk:3', '--k', '4', '--max-tokens', '20');
    expect(mine.stdout).toMatch(/wrote data\.jsonl: \d+ records, \d+ labelled draft tokens from 4 prompts/);
    expect(mine.stdout).toMatch(/exact rule \d\.\d\d, a perfect judge for topk:3 \d\.\d\d/);
    const collect = await verdict('judge', 'collect', '--bundle', fx.dir, '--data', 'data.jsonl', '--out', 'emb');
    expect(collect.stdout).toMatch(/wrote emb: \d+ hidden states/);
    const train = await verdict('judge', 'train', '--emb', 'emb', '--out', 'heads/judge.json', '--recall', '0.9');
    expect(train.stdout).toMatch(/held-out, all tokens \(\d+ correct, \d+ wrong\): precision \d\.\d{3} {2}recall \d\.\d{3} {2}F1 \d\.\d{3} {2}ROC-AUC (\d\.\d{3}|n\/a)/);
    const head = JudgeHeadSchema.parse(JSON.parse(await readFile(join(fx.root, 'heads/judge.json'), 'utf8')));
    expect(head.hidden_size).toBe(64);
    expect(await readFile(join(fx.root, 'heads/judge-pr.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('bad data exits 1 with the file and line, leaving no store', async () => {
    await writeFile(join(fx.root, 'bad.jsonl'), '{"prompt":"a","response":"b"}\n{"prompt":"a",\n');
    const err = await verdict('judge', 'collect', '--bundle', fx.dir, '--data', 'bad.jsonl', '--out', 'emb-bad').catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/bad\.jsonl:2: malformed JSON/);
    expect(existsSync(join(fx.root, 'emb-bad'))).toBe(false);
  });

  it('train refuses a directory that is not a store', async () => {
    const err = await verdict('judge', 'train', '--emb', 'nowhere', '--out', 'x.json').catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/nowhere: not an embedding store \(no store\.json\); run `verdict judge collect` first/);
    expect(existsSync(join(fx.root, 'x.json'))).toBe(false);
  });
});
