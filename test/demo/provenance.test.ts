import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { PROVENANCES } from '@verdict/protocol/browser';
import { chunkSegments, mergeRuns, proportionalSplit, PROVENANCE_LEGEND, provenanceClass, splitStep } from '../../src/demo/provenance.ts';

describe('splitStep', () => {
  it('uses per-token pieces when they match the text', () => {
    expect(splitStep('The cat sat', ['draft', 'judge', 'target'], ['The', ' cat', ' sat'])).toEqual([
      { text: 'The', provenance: 'draft' },
      { text: ' cat', provenance: 'judge' },
      { text: ' sat', provenance: 'target' },
    ]);
  });

  it('merges adjacent tokens from the same source', () => {
    expect(splitStep('abcd', ['draft', 'draft', 'target', 'target'], ['a', 'b', 'c', 'd'])).toEqual([
      { text: 'ab', provenance: 'draft' },
      { text: 'cd', provenance: 'target' },
    ]);
  });

  it('falls back to a proportional split when pieces are missing or disagree with the text', () => {
    expect(splitStep('aabb', ['draft', 'target'])).toEqual([
      { text: 'aa', provenance: 'draft' },
      { text: 'bb', provenance: 'target' },
    ]);
    expect(splitStep('aabb', ['draft', 'target'], ['a', 'x'])).toEqual([
      { text: 'aa', provenance: 'draft' },
      { text: 'bb', provenance: 'target' },
    ]);
  });

  it('skips empty pieces (a token ending mid-character) without losing text', () => {
    const segs = splitStep('é!', ['draft', 'judge', 'target'], ['', 'é', '!']);
    expect(segs).toEqual([
      { text: 'é', provenance: 'judge' },
      { text: '!', provenance: 'target' },
    ]);
  });

  it('colours text with no provenance as the target', () => {
    expect(splitStep('hi', [])).toEqual([{ text: 'hi', provenance: 'target' }]);
    expect(splitStep('', ['draft'])).toEqual([]);
  });
});

describe('proportionalSplit', () => {
  it('keeps every character exactly once and never splits a surrogate pair', () => {
    const text = 'a😀b😀c';
    const parts = proportionalSplit(text, 3);
    expect(parts.join('')).toBe(text);
    expect(parts).toHaveLength(3);
    for (const p of parts) expect(p).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
  });
  it('gives empty parts when there are more tokens than characters', () => {
    expect(proportionalSplit('ab', 4).join('')).toBe('ab');
  });
});

describe('chunkSegments', () => {
  it('reads delta content, provenance and pieces from a chunk', () => {
    const chunk = { id: 'x', object: 'chat.completion.chunk' as const, created: 1, model: 'm', choices: [{ index: 0 as const, delta: { content: 'ab' }, finish_reason: null, logprobs: null }], x_verdict: { provenance: ['judge' as const, 'target' as const], step: 3, pieces: ['a', 'b'] } };
    expect(chunkSegments(chunk)).toEqual([
      { text: 'a', provenance: 'judge' },
      { text: 'b', provenance: 'target' },
    ]);
  });
  it('is empty for the role-only first chunk', () => {
    expect(chunkSegments({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null, logprobs: null }] })).toEqual([]);
  });
  it('mergeRuns does not mutate its input', () => {
    const input = [{ text: 'a', provenance: 'draft' as const }, { text: 'b', provenance: 'draft' as const }];
    mergeRuns(input);
    expect(input[0].text).toBe('a');
  });
});

describe('provenance colours', () => {
  it("colours a kept prediction token (cache-as-draft's regenerate) apart from draft, judge and target tokens", () => {
    expect(provenanceClass('prediction')).toBe('tok-prediction');
    expect(splitStep('Roses are red', ['prediction', 'prediction', 'target'], ['Roses', ' are', ' red'])).toEqual([
      { text: 'Roses are', provenance: 'prediction' },
      { text: ' red', provenance: 'target' },
    ]);
  });

  it('every protocol provenance has a legend entry, a swatch in index.html and a rule in app.css', () => {
    const html = readFileSync(new URL('../../public/index.html', import.meta.url), 'utf8');
    const css = readFileSync(new URL('../../public/demo/app.css', import.meta.url), 'utf8');
    expect(PROVENANCE_LEGEND.map((l) => l.provenance).sort()).toEqual([...PROVENANCES].sort());
    for (const { className } of PROVENANCE_LEGEND) {
      expect(html).toContain(`swatch ${className}`);
      expect(css).toContain(`.${className} {`);
    }
  });
});
