import { describe, expect, it } from 'vitest';
import { DistRow } from '../src/engine/dist.ts';
import { ngramLookup, NgramProposer } from '../src/engine/propose/ngram.ts';
import { PredictionProposer } from '../src/engine/propose/prediction.ts';
import { lookupLengths, proposerOf, proposeText, TextProposal, textProposalFor } from '../src/engine/propose/text.ts';
import { greedyRequest } from '../src/engine/engine.ts';
import { Rng, WarpScratch } from '../src/engine/sampling.ts';
import { exact } from '../src/engine/verify/exact.ts';
import type { VerifyInput } from '../src/engine/verify/types.ts';

// Hand-built sequences: each expectation below is worked out by reading the sequence, not by another matcher.
describe('ngramLookup (prompt lookup)', () => {
  const L = { minN: 1, maxN: 3 };
  it('continues after the most recent earlier occurrence of the longest suffix', () => {
    //          0  1  2  3  4  5  6  7  8  9
    const seq = [5, 6, 7, 8, 9, 1, 6, 7, 2, 6, 7];
    // suffix [6,7] occurs at 1 and 6 (3-gram [2,6,7] nowhere earlier): the latest, at 6, is followed by [2, 6, 7]
    expect(ngramLookup(seq, 3, L)).toEqual([2, 6, 7]);
    expect(ngramLookup(seq, 1, L)).toEqual([2]);
  });
  it('prefers a longer match to a more recent shorter one', () => {
    const seq = [1, 2, 3, 4, 9, 3, 5, 1, 2, 3];
    // [1,2,3] occurs at 0 (followed by 4); [3] alone more recently at 5 (followed by 5)
    expect(ngramLookup(seq, 2, L)).toEqual([4, 9]);
  });
  it('stops at the sequence end (the continuation may run into the suffix itself)', () => {
    expect(ngramLookup([4, 4, 4], 5, L)).toEqual([4]); // [4,4] at 0 is followed by the last 4 only
  });
  it('respects minN: a single-token match is not enough with minN = 2; nothing recurs → nothing', () => {
    const seq = [1, 2, 3, 9, 3];
    expect(ngramLookup(seq, 4, { minN: 1, maxN: 3 })).toEqual([9, 3]);
    expect(ngramLookup(seq, 4, { minN: 2, maxN: 3 })).toEqual([]);
    expect(ngramLookup([1, 2, 3, 4], 4, L)).toEqual([]);
    expect(ngramLookup([1], 4, L)).toEqual([]);
    expect(new NgramProposer(L).propose(seq, 0)).toEqual([]);
  });
  it('respects maxN: a suffix longer than maxN is not needed to match', () => {
    const seq = [7, 1, 2, 8, 0, 1, 2];
    expect(ngramLookup(seq, 2, { minN: 2, maxN: 2 })).toEqual([8, 0]);
  });
});

describe('PredictionProposer', () => {
  const L = { minN: 2, maxN: 4 };
  const prompt = [100, 101];
  const pred = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

  it('proposes the prediction from its start, then follows the accepted tokens', () => {
    const p = new PredictionProposer(pred, prompt.length, L);
    expect(p.propose(prompt, 4)).toEqual([1, 2, 3, 4]);
    p.settle(4);
    // 4 kept + the target's bonus 5 (= the prediction's next token): the cursor is past it
    expect(p.propose([...prompt, 1, 2, 3, 4, 5], 4)).toEqual([6, 7, 8, 9]);
    p.settle(4);
    expect(p.propose([...prompt, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 4)).toEqual([]); // exhausted: the draft model's turn
    expect([p.accepted, p.rejected]).toEqual([8, 0]);
  });

  it('a substituted token: continues right after the token it replaced, and counts only that one as rejected', () => {
    const p = new PredictionProposer(pred, 0, L);
    expect(p.propose([], 4)).toEqual([1, 2, 3, 4]);
    p.settle(2); // 1, 2 kept; the target wrote 42 instead of 3
    expect(p.propose([1, 2, 42], 4)).toEqual([4, 5, 6, 7]);
    p.settle(4);
    // positions 2 (3) rejected; 3 (4) was proposed twice, kept the second time
    expect([p.accepted, p.rejected]).toEqual([6, 1]);
  });

  it('realigns by n-gram after an insertion or a deletion, at the nearest occurrence', () => {
    const p = new PredictionProposer(pred, 0, L);
    p.propose([], 4);
    p.settle(4);
    // the completion inserted 50, 51 and then went on with 5, 6: [5, 6] is found at 4, the cursor goes to 6
    expect(p.propose([1, 2, 3, 4, 50, 51], 4)).toEqual([]); // lost: [4,50,51] / [50,51] are nowhere in the prediction, 51 replaced nothing
    expect(p.propose([1, 2, 3, 4, 50, 51, 5, 6], 3)).toEqual([7, 8, 9]);
    const q = new PredictionProposer(pred, 0, L);
    // a deletion: 3, 4, 5 left out; [2, 6] is nowhere, but [6, 7] is, after which 8 follows
    expect(q.propose([1, 2, 6, 7], 2)).toEqual([8, 9]);
    // nearest occurrence to where it lost track, forward first
    const rep = [1, 2, 9, 1, 2, 8, 1, 2, 7];
    const r = new PredictionProposer(rep, 0, L);
    expect(r.propose([1, 2, 9, 1], 2)).toEqual([2, 8]);
    expect(r.propose([1, 2, 9, 1, 2, 8, 5, 1, 2], 1)).toEqual([7]); // lost at 6; [1,2] occurs at 0, 3 and 6: 6 is nearest forward
  });

  it('an unrelated prediction: one substitution guess, then nothing to offer until an n-gram matches', () => {
    const p = new PredictionProposer([7, 7, 7, 7, 8, 9], 0, L);
    p.propose([], 2);
    p.settle(0);
    expect(p.propose([1], 2)).toEqual([7, 7]); // substitution hypothesis: 1 replaced the first 7
    p.settle(0);
    expect(p.propose([1, 3], 2)).toEqual([]); // the guess failed at once: no second guess, the draft model's turn
    expect(p.propose([1, 3, 5, 6], 2)).toEqual([]); // a draft-model step added two tokens: nothing aligns
    expect([p.accepted, p.rejected]).toEqual([0, 3]); // positions 0..2 were proposed and never kept
    expect(p.propose([1, 3, 5, 6, 7, 8], 2)).toEqual([9]); // [7, 8] occurs: realigned
    // a confirmed guess allows the next one: substitutions far apart are each followed
    const q = new PredictionProposer([1, 2, 3, 4, 5, 6, 7, 8], 0, L);
    q.propose([], 2);
    expect(q.propose([1, 42], 2)).toEqual([3, 4]);
    expect(q.propose([1, 42, 3, 4, 43], 2)).toEqual([6, 7]);
    expect(new PredictionProposer([], 0, L).propose([], 4)).toEqual([]);
  });
});

describe('text proposal plumbing', () => {
  it('defaults: prediction when there are prediction ids, else draft; n-gram lengths 2..4, an explicit bound moves the other', () => {
    expect(proposerOf({})).toBe('draft');
    expect(proposerOf({ predictionIds: [] })).toBe('prediction');
    expect(proposerOf({ predictionIds: [1], proposer: 'ngram' })).toBe('ngram');
    expect(lookupLengths({})).toEqual({ minN: 2, maxN: 4 });
    expect(lookupLengths({ promptLookupMax: 1 })).toEqual({ minN: 1, maxN: 1 });
    expect(lookupLengths({ promptLookupMin: 6 })).toEqual({ minN: 6, maxN: 6 });
    expect(textProposalFor(greedyRequest([1]), 8)).toBeNull();
    expect(textProposalFor(greedyRequest([1], { mode: 'target', proposer: 'ngram' }), 8)).toBeNull();
    expect(textProposalFor(greedyRequest([1], { proposer: 'ngram' }), 8)?.source).toBe('ngram');
  });

  it('proposeText sets one-hot draft rows (reused buffers), or says null: use the draft model', () => {
    const V = 6;
    const params = { temperature: 1, topP: 0.9, topK: 3 };
    const scratch = new WarpScratch(V);
    const rows = [0, 1, 2].map(() => new DistRow(V, params, scratch));
    const text = new TextProposal('prediction', new PredictionProposer([3, 5, 1, 0], 1, { minN: 2, maxN: 4 }), V);
    expect(proposeText({ seq: [2], text, draftRows: rows }, 3)).toEqual([3, 5, 1]);
    expect(rows.map((r) => [...r.probs()])).toEqual([3, 5, 1].map((t) => Array.from({ length: V }, (_, j) => (j === t ? 1 : 0))));
    expect(rows.map((r) => r.argmax())).toEqual([3, 5, 1]);
    expect(proposeText({ seq: [2, 3, 5, 1], text, draftRows: rows }, 3)).toEqual([0]);
    expect([...rows[0].softmax()]).toEqual([1, 0, 0, 0, 0, 0]); // the old hot entry was reset
    expect(proposeText({ seq: [2, 3, 5, 1, 0], text, draftRows: rows }, 3)).toBeNull();
    expect(proposeText({ seq: [2], text: null, draftRows: rows }, 3)).toBeNull();
  });

  it('with a one-hot draft row the exact rule at T > 0 still emits the target distribution (accept w.p. p(d), else the residual)', () => {
    const V = 4;
    const scratch = new WarpScratch(V);
    const params = { temperature: 1, topP: 1, topK: 0 };
    const p = [0.5, 0.1, 0.3, 0.1];
    const target = [new DistRow(V, params, scratch).set(Float32Array.from(p, Math.log)), new DistRow(V, params, scratch).set(new Float32Array(V))];
    for (const d of [0, 1]) {
      const draft = [new DistRow(V, params, scratch)];
      new TextProposal('prediction', { propose: () => [d] }, V).setRows(draft, [d]);
      const rng = new Rng(5 + d);
      const n = 40000;
      const counts = [0, 0, 0, 0];
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const input = { draftTokens: [d], target, draft, greedy: false, rng, residual: new Float32Array(V), threshold: 0.5, klThreshold: 0, klConfidence: 1, entropyThreshold: 1, entropyWindow: 2 } as VerifyInput;
        const v = exact(input);
        kept += v.accepted;
        counts[v.accepted === 1 ? d : v.next]++;
      }
      expect(Math.abs(kept / n - p[d])).toBeLessThan(0.01); // accepted with probability p(d)
      const chi2 = counts.reduce((s, o, j) => s + (o - n * p[j]) ** 2 / (n * p[j]), 0);
      expect(chi2).toBeLessThan(16.27); // 3 degrees of freedom, 0.1% critical value
    }
  });
});
