import { describe, expect, it } from 'vitest';
import { readChatStream, interpretEvent, type StreamItem } from '../../src/demo/stream.ts';

function bodyOf(parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(enc.encode(p));
      c.close();
    },
  });
}

async function collect(parts: string[]): Promise<StreamItem[]> {
  const out: StreamItem[] = [];
  for await (const item of readChatStream(bodyOf(parts))) out.push(item);
  return out;
}

const chunk = (content: string, provenance: string[]) =>
  JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null, logprobs: null }], x_verdict: { provenance, step: 1 } });

describe('readChatStream', () => {
  it('yields chunks then done, across reads split mid-event and mid-character', async () => {
    const whole = `data: ${chunk('héllo', ['draft', 'target'])}\n\ndata: [DONE]\n\n`;
    const bytes = new TextEncoder().encode(whole);
    // Cut after the first byte of the two-byte 'é', so a naive per-read decode would garble it.
    const cut = new TextEncoder().encode(whole.slice(0, whole.indexOf('é'))).length + 1;
    const [a, b] = [bytes.slice(0, cut), bytes.slice(cut)];
    expect(new TextDecoder().decode(a).endsWith('\uFFFD')).toBe(true);
    const items: StreamItem[] = [];
    const body = new ReadableStream<Uint8Array>({ start(c) { c.enqueue(a); c.enqueue(b); c.close(); } });
    for await (const it of readChatStream(body)) items.push(it);
    expect(items.map((i) => i.kind)).toEqual(['chunk', 'done']);
    expect(items[0].kind === 'chunk' && items[0].chunk.choices[0].delta.content).toBe('héllo');
  });

  it('reports an error event as an error and stops', async () => {
    const items = await collect([`data: ${chunk('a', ['target'])}\n\n`, 'data: {"error":{"message":"backend stalled","type":"server_error"}}\n\n', `data: ${chunk('b', ['target'])}\n\n`]);
    expect(items.map((i) => i.kind)).toEqual(['chunk', 'error']);
    expect(items[1].kind === 'error' && items[1].message).toContain('backend stalled');
  });

  it('reports a stream that closes without [DONE] as truncated', async () => {
    const items = await collect([`data: ${chunk('a', ['target'])}\n\n`]);
    expect(items.at(-1)).toEqual({ kind: 'error', message: expect.stringContaining('without [DONE]') });
  });

  it('accepts a final event without its blank line when the stream ends', async () => {
    const items = await collect([`data: ${chunk('a', ['target'])}\n\ndata: [DONE]`]);
    expect(items.map((i) => i.kind)).toEqual(['chunk', 'done']);
  });
});

describe('interpretEvent', () => {
  it('names non-JSON data', () => {
    expect(interpretEvent('<html>')).toEqual({ kind: 'error', message: expect.stringContaining('<html>') });
  });
  it('treats event: error as an error even without an error field', () => {
    expect(interpretEvent('{"message":"x"}', 'error').kind).toBe('error');
  });
  it('rejects a chunk without choices', () => {
    expect(interpretEvent('{"id":"x"}').kind).toBe('error');
  });
});
