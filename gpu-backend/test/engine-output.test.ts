import { describe, expect, it } from 'vitest';
import { IncrementalDetokenizer } from '../src/engine/detokenize.ts';
import { Output } from '../src/engine/output.ts';

/** Token id = one byte, decoded as UTF-8 (incomplete characters become U+FFFD, like byte-level BPE). */
const bytes = { decode: (ids: number[]) => new TextDecoder().decode(Uint8Array.from(ids)) };
const enc = (s: string) => [...new TextEncoder().encode(s)];
const EOS = 255;

describe('IncrementalDetokenizer', () => {
  it('never splits a multi-byte character and reassembles the exact text', () => {
    const d = new IncrementalDetokenizer(bytes);
    const text = 'añ€😀z';
    const pieces = enc(text).map((b) => d.push(b));
    expect(pieces.join('')).toBe(text);
    expect(pieces.every((p) => !p.includes('\uFFFD'))).toBe(true);
    // '€' is 3 bytes: the first two release nothing
    expect(pieces.slice(3, 6)).toEqual(['', '', '€']);
  });
  it('flush releases an incomplete character as U+FFFD', () => {
    const d = new IncrementalDetokenizer(bytes);
    expect(d.push(0x61)).toBe('a');
    expect(d.push(0xe2)).toBe('');
    expect(d.flush()).toBe('\uFFFD');
  });
});

describe('Output', () => {
  const all = (n: number) => new Array(n).fill('draft');
  it('cuts a chunk at a stop sequence and does not emit the stop', () => {
    const o = new Output(bytes, new Set([EOS]), ['STOP'], 100);
    const c = o.commit(enc('abSTOPcd'), all(8));
    expect(c.text).toBe('ab');
    expect(c.tokens).toEqual(enc('abSTOP'));
    expect(o.finishReason).toBe('stop');
  });
  it('holds back a possible stop prefix across chunks, and releases it when it is not one', () => {
    const o = new Output(bytes, new Set([EOS]), ['STOP'], 100);
    expect(o.commit(enc('abST'), all(4)).text).toBe('ab');
    expect(o.commit(enc('Ox'), all(2)).text).toBe('STOx');
    expect(o.finished).toBe(false);
    expect(o.commit(enc('ST'), all(2)).text).toBe('');
    expect(o.commit(enc('OP!'), all(3)).text).toBe('');
    expect(o.text).toBe('abSTOx');
    expect(o.finishReason).toBe('stop');
  });
  it('cuts a chunk at max_tokens', () => {
    const o = new Output(bytes, new Set([EOS]), [], 3);
    const c = o.commit(enc('abcde'), ['draft', 'judge', 'draft', 'draft', 'target']);
    expect(c).toEqual({ tokens: enc('abc'), provenance: ['draft', 'judge', 'draft'], text: 'abc', pieces: ['a', 'b', 'c'] });
    expect(o.finishReason).toBe('length');
  });
  it('gives each token its own text when the pieces line up with the step text, and none when held-back text shifts them', () => {
    const o = new Output(bytes, new Set([EOS]), ['STOP'], 100);
    expect(o.commit(enc('ab€'), all(5)).pieces).toEqual(['a', 'b', '', '', '€']);
    expect(o.commit(enc('xST'), all(3)).pieces).toBeUndefined(); // 'ST' is held: the text is only 'x'
    expect(o.commit(enc('Oy'), all(2)).pieces).toBeUndefined(); // and released here with 'Oy'
    expect(o.commit(enc('z'), all(1)).pieces).toEqual(['z']);
  });
  it('stops at EOS inside a chunk without emitting it', () => {
    const o = new Output(bytes, new Set([EOS]), [], 10);
    const c = o.commit([...enc('ab'), EOS, ...enc('cd')], all(5));
    expect(c.tokens).toEqual(enc('ab'));
    expect(o.finishReason).toBe('stop');
  });
  it('end() releases held text', () => {
    const o = new Output(bytes, new Set([EOS]), ['xyz'], 10);
    expect(o.commit(enc('ax'), all(2)).text).toBe('a');
    expect(o.end('cancelled').text).toBe('x');
    expect(o.text).toBe('ax');
  });
});
