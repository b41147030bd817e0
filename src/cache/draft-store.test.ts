import { describe, expect, it } from 'vitest';
import { ChatCompletionRequestSchema, CompletionRequestSchema } from '@verdict/protocol';
import { answerText, draftKeys, turnSimilarity } from './draft-key.ts';
import { cutText, DraftStore } from './draft-store.ts';

const chat = (r: Record<string, unknown>) => ChatCompletionRequestSchema.parse({ model: 'm', ...r });
const turns = (last: string) => [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: last },
];

describe('draft keys', () => {
  it('are one conversation whatever the sampling settings, and scoped', async () => {
    const k = await draftKeys('chat', chat({ messages: turns('Write a poem about cats'), temperature: 0 }), 'key:a');
    const sampled = await draftKeys('chat', chat({ messages: turns('Write a poem about cats'), temperature: 0.7, seed: 3, max_tokens: 9, stop: 'x', speculative: { mode: 'judge', k: 8 }, stream: true }), 'key:a');
    expect(sampled).toEqual(k);
    expect((await draftKeys('chat', chat({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Write a poem about cats' }] }] }), 'key:a')).conversation).toBe(k.conversation);
    expect((await draftKeys('chat', chat({ messages: turns('Write a poem about cats') }), 'key:b')).conversation).not.toBe(k.conversation);
    expect((await draftKeys('chat', chat({ model: 'n', messages: turns('Write a poem about cats') }), 'key:a')).conversation).not.toBe(k.conversation);
    expect(k.edit?.turn).toBe('Write a poem about cats');
  });

  it('share the edit key when only the last user turn differs, never across scopes or earlier turns', async () => {
    const a = await draftKeys('chat', chat({ messages: turns('Write a poem about cats') }), 'key:a');
    const b = await draftKeys('chat', chat({ messages: turns('Write a poem about dogs') }), 'key:a');
    expect(b.conversation).not.toBe(a.conversation);
    expect(b.edit?.key).toBe(a.edit?.key);
    expect((await draftKeys('chat', chat({ messages: turns('Write a poem about dogs') }), 'key:b')).edit?.key).not.toBe(a.edit?.key);
    const otherSystem = await draftKeys('chat', chat({ messages: [{ role: 'system', content: 'Be long.' }, { role: 'user', content: 'Write a poem about cats' }] }), 'key:a');
    expect(otherSystem.edit?.key).not.toBe(a.edit?.key);
    expect((await draftKeys('completion', CompletionRequestSchema.parse({ model: 'm', prompt: 'hi' }), 'key:a')).edit).toBeNull();
  });

  it('turnSimilarity: an edited turn is alike, an unrelated one is not', () => {
    expect(turnSimilarity('Write a poem about cats', 'write a  poem about CATS')).toBe(1);
    expect(turnSimilarity('Write a poem about cats', 'Write a poem about dogs')).toBeGreaterThan(0.7);
    expect(turnSimilarity('Write a poem about cats', 'What is the capital of France?')).toBeLessThan(0.3);
    expect(turnSimilarity('a', 'a')).toBe(1);
  });

  it('answerText reads JSON answers and SSE chunks of both kinds', () => {
    expect(answerText('chat', { kind: 'json', requestId: null, body: JSON.stringify({ choices: [{ message: { content: 'Hello!' } }] }) })).toBe('Hello!');
    const events = ['Hel', 'lo', null].map((c, t) => ({ t, data: JSON.stringify({ choices: [{ delta: c === null ? {} : { content: c } }] }) }));
    expect(answerText('chat', { kind: 'sse', requestId: null, events })).toBe('Hello');
    expect(answerText('completion', { kind: 'json', requestId: null, body: JSON.stringify({ choices: [{ text: 'once' }] }) })).toBe('once');
    expect(answerText('chat', { kind: 'json', requestId: null, body: JSON.stringify({ choices: [{ message: { content: '' } }] }) })).toBeNull();
  });
});

describe('DraftStore', () => {
  const entry = (text: string, deterministic = true, turn: string | null = 't') => ({ text, deterministic, turn });

  it('holds the latest text for its TTL', () => {
    let now = 1_000;
    const s = new DraftStore(undefined, () => now);
    expect(s.put('k', entry('one'), 10)).toBe(true);
    expect(s.put('k', entry('two'), 10)).toBe(true);
    expect(s.get('k')?.text).toBe('two');
    now += 10_001;
    expect(s.get('k')).toBeNull();
    expect(s.size).toBe(0);
    expect(s.put('k', entry('x'), 0)).toBe(false);
  });

  it('never lets a sampled answer replace a live greedy one to the same turn', () => {
    const s = new DraftStore();
    s.put('k', entry('greedy', true), 60);
    expect(s.put('k', entry('sampled', false), 60)).toBe(false);
    expect(s.get('k')?.text).toBe('greedy');
    expect(s.put('k', entry('edited', false, 'other turn'), 60)).toBe(true);
    expect(s.put('k', entry('greedy again', true, 'other turn'), 60)).toBe(true);
    expect(s.get('k')?.text).toBe('greedy again');
  });

  it('keeps within its entry and character limits, least recently used out first, and cuts long texts', () => {
    const s = new DraftStore({ maxEntries: 3, maxTotalChars: 10, maxTextChars: 4 });
    s.put('a', entry('aaaa'), 60);
    s.put('b', entry('bbbb'), 60);
    expect(s.get('a')?.text).toBe('aaaa'); // a is now the most recently used
    s.put('c', entry('cccccccc'), 60); // cut to 4; 12 chars > 10: b goes
    expect(s.get('c')?.text).toBe('cccc');
    expect(s.get('b')).toBeNull();
    expect(s.get('a')?.text).toBe('aaaa');
    expect(s.totalChars).toBe(8);
    s.put('d', entry('d'), 60);
    s.put('e', entry('e'), 60); // 4 entries > 3: c (least recent) goes
    expect(s.size).toBe(3);
    expect(s.get('c')).toBeNull();
  });

  it('cutText never leaves half a surrogate pair', () => {
    expect(cutText('ab😀', 3)).toBe('ab');
    expect(cutText('ab😀', 4)).toBe('ab😀');
    expect(cutText('abc', 2)).toBe('ab');
  });
});
