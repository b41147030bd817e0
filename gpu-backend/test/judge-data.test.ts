import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countJudgeRecords, readJudgeRecords, type JudgeRecord } from '../src/judge/data.ts';
import { tokenizeExample } from '../src/judge/labels.ts';
import { byteBpeTokenizer } from './judge-fixtures.ts';

// 'ab' and 'cd' are single tokens; 'é' is two byte tokens, '€' three.
const tok = byteBpeTokenizer(['ab', 'cd', 'xyz']);
const encodePrompt = (t: string) => [0, ...tok.encode(t)];
const labelsOf = (record: Partial<JudgeRecord> & { response: string }) => tokenizeExample({ prompt: 'p', ...record }, tok, encodePrompt);

describe('TokenCourt first-error labels', () => {
  it('marks the token containing the first error and everything after as wrong', () => {
    // tokens: ab | cd | ' ' | x y z... 'xyz' is one token
    const ex = labelsOf({ response: 'abcd xyz', first_error: 2 });
    expect(ex.responseIds.map((id) => tok.decode([id]))).toEqual(['ab', 'cd', ' ', 'xyz']);
    expect(ex.labels).toEqual([1, 0, 0, 0]);
  });

  it('an error inside a token marks that whole token', () => {
    // first_error = 6 is the 'y' inside the 'xyz' token
    expect(labelsOf({ response: 'abcd xyz', first_error: 6 }).labels).toEqual([1, 1, 1, 0]);
    expect(labelsOf({ response: 'abcd xyz', first_error: 3 }).labels).toEqual([1, 0, 0, 0]);
  });

  it('handles multi-byte characters split over byte tokens', () => {
    // 'ab€cd' → ab | e2 | 82 | ac | cd ; '€' is character 2, 'c' character 3
    const ex = labelsOf({ response: 'ab€cd', first_error: 2 });
    expect(ex.responseIds.length).toBe(5);
    // The first byte token of '€' already commits to the wrong character.
    expect(ex.labels).toEqual([1, 0, 0, 0, 0]);
    expect(labelsOf({ response: 'ab€cd', first_error: 3 }).labels).toEqual([1, 1, 1, 1, 0]);
    // 'é' after a surrogate-pair emoji: character indices are UTF-16 code units.
    const emoji = labelsOf({ response: '😀é', first_error: 2 });
    expect(emoji.responseIds.length).toBe(6); // 4 + 2 byte tokens
    expect(emoji.labels).toEqual([1, 1, 1, 1, 0, 0]);
  });

  it('no first_error and no labels means every token is correct; the prompt gets BOS', () => {
    const ex = labelsOf({ response: 'abcd' });
    expect(ex.labels).toEqual([1, 1]);
    expect(ex.promptIds[0]).toBe(0);
  });

  it('explicit labels must cover the response tokens exactly', () => {
    expect(labelsOf({ response: 'abcd', labels: [1, 0] }).labels).toEqual([1, 0]);
    expect(() => labelsOf({ response: 'abcd', labels: [1, 0, 1] })).toThrow(/index 2 is past the end \(response has 2 tokens/);
    expect(() => labelsOf({ response: 'abcd', labels: [1] })).toThrow(/1 entries but response has 2 tokens/);
  });

  it('pinned response_ids are used as given', () => {
    const ex = labelsOf({ response: 'abcd', response_ids: [97, 98, 257], labels: [1, 1, 0] });
    expect(ex.responseIds).toEqual([97, 98, 257]);
  });
});

describe('reading JSONL data', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'judge-data-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = async (name: string, text: string) => {
    const p = join(dir, name);
    await writeFile(p, text);
    return p;
  };

  it('streams records with their line numbers, skipping blank lines', async () => {
    const p = await file('ok.jsonl', '{"prompt":"a","response":"b"}\n\n{"prompt":"c","response":"d","labels":[1]}\n');
    const lines: number[] = [];
    for await (const r of readJudgeRecords(p)) lines.push(r.line);
    expect(lines).toEqual([1, 3]);
  });

  it('a malformed line is reported with its line number', async () => {
    const p = await file('bad.jsonl', '{"prompt":"a","response":"b"}\n{"prompt": "a", "resp\n');
    await expect(countJudgeRecords(p)).rejects.toThrow(/bad\.jsonl:2: malformed JSON/);
  });

  it('a schema error names the line and field', async () => {
    const p = await file('field.jsonl', '{"prompt":"a","response":"b"}\n{"prompt":"a","response":"b","labels":[1,2]}\n');
    await expect(countJudgeRecords(p)).rejects.toThrow(/field\.jsonl:2: labels\.1/);
  });

  it('first_error past the end of the response names the line', async () => {
    const p = await file('past.jsonl', '{"prompt":"a","response":"abc","first_error":3}\n');
    await expect(countJudgeRecords(p)).rejects.toThrow(/past\.jsonl:1: first_error: first_error is past the end/);
  });

  it('an empty file is an error', async () => {
    const p = await file('empty.jsonl', '\n\n');
    await expect(countJudgeRecords(p)).rejects.toThrow(/empty\.jsonl:2: empty data file/);
  });
});
