import { describe, expect, it } from 'vitest';
import { chatBody, pickModel, REGENERATE_TEMPERATURE, validateSettings } from '../../src/demo/request.ts';
import { describeHttpError, describeNetworkError } from '../../src/demo/errors.ts';
import { ChatCompletionRequestSchema } from '@verdict/protocol';
import { DEMO_PRESETS, findPreset } from '../../src/demo/presets.ts';

describe('chatBody', () => {
  it('is a valid streamed temperature-0 chat request for every mode', () => {
    for (const mode of ['target', 'exact', 'judge', 'kl'] as const) {
      const body = chatBody('tiny', 'hello', { mode, k: 4, threshold: 0.5, klThreshold: 0.3 });
      const parsed = ChatCompletionRequestSchema.parse(body);
      expect(parsed.stream).toBe(true);
      expect(parsed.temperature).toBe(0);
      expect(parsed.speculative?.mode).toBe(mode);
    }
  });
  it('sends only the knobs the mode uses, so equivalent requests share a cache entry', () => {
    expect(chatBody('m', 'p', { mode: 'target', k: 4, threshold: 0.5, klThreshold: 0.3 }).speculative).toEqual({ mode: 'target' });
    // the Regenerate run samples (never an answer-cache hit; the gateway sends the T = 0 answer as the draft)
    expect(chatBody('m', 'p', { mode: 'judge', k: 4, threshold: 0.5, klThreshold: 0.3 }).temperature).toBe(0);
    expect(chatBody('m', 'p', { mode: 'judge', k: 4, threshold: 0.5, klThreshold: 0.3 }, undefined, REGENERATE_TEMPERATURE).temperature).toBe(0.7);
    expect(chatBody('m', 'p', { mode: 'exact', k: 4, threshold: 0.9, klThreshold: 0.3 }).speculative).toEqual({ mode: 'exact', k: 4 });
    expect(chatBody('m', 'p', { mode: 'judge', k: 6, threshold: 0.7, klThreshold: 0.3 }).speculative).toEqual({ mode: 'judge', k: 6, threshold: 0.7 });
    expect(chatBody('m', 'p', { mode: 'kl', k: 6, threshold: 0.7, klThreshold: 0.2 }).speculative).toEqual({ mode: 'kl', k: 6, kl_threshold: 0.2 });
  });
});

describe('validateSettings', () => {
  it('names the bad field', () => {
    expect(validateSettings({ mode: 'judge', k: 0, threshold: 0.5, klThreshold: 0.1 })).toMatch(/K must/);
    expect(validateSettings({ mode: 'judge', k: 4, threshold: 1.5, klThreshold: 0.1 })).toMatch(/threshold/);
    expect(validateSettings({ mode: 'judge', k: 4, threshold: 0.5, klThreshold: -1 })).toMatch(/KL threshold/);
    expect(validateSettings({ mode: 'judge', k: 4, threshold: 0.5, klThreshold: 0.1 })).toBeNull();
  });
});

describe('pickModel', () => {
  it('prefers a model offering the judge mode', () => {
    expect(pickModel({ data: [{ id: 'a', x_verdict: { modes: ['target'] } }, { id: 'b', x_verdict: { modes: ['target', 'judge'] } }] })).toBe('b');
    expect(pickModel({ data: [{ id: 'a' }] })).toBe('a');
    expect(pickModel({ data: [] })).toBeNull();
    expect(pickModel('nope')).toBeNull();
  });
});

describe('presets', () => {
  it('have unique ids and non-empty prompts', () => {
    expect(new Set(DEMO_PRESETS.map((p) => p.id)).size).toBe(DEMO_PRESETS.length);
    for (const p of DEMO_PRESETS) expect(p.prompt.length).toBeGreaterThan(0);
    expect(findPreset(DEMO_PRESETS[0].id)).toBe(DEMO_PRESETS[0]);
    expect(findPreset('missing')).toBeUndefined();
  });
});

describe('describeHttpError', () => {
  it('says rate limited and when to retry', () => {
    const m = describeHttpError(429, '{"error":{"message":"too many requests","type":"rate_limit_error","param":null,"code":null}}', '12');
    expect(m).toMatch(/^Rate limited/);
    expect(m).toContain('in 12 s');
    expect(m).toContain('too many requests');
  });
  it('says the backend is down on 502/503', () => {
    expect(describeHttpError(503, '', null)).toMatch(/backend is down or busy/);
    expect(describeHttpError(502, '<html>bad gateway</html>', null)).not.toContain('<html>');
  });
  it('passes the server message of a 400 through', () => {
    expect(describeHttpError(400, '{"error":{"message":"Invalid request: \'speculative.k\': k must be at most 64"}}', null)).toContain('k must be at most 64');
  });
  it('describes network failures', () => {
    expect(describeNetworkError(new TypeError('Failed to fetch'))).toContain('Failed to fetch');
  });
});

describe('index.html', async () => {
  const { readFileSync } = await import('node:fs');
  const { MODES } = await import('@verdict/protocol/browser');
  const html = readFileSync(new URL('../../public/index.html', import.meta.url), 'utf8');
  const headers = readFileSync(new URL('../../public/_headers', import.meta.url), 'utf8');

  it('offers exactly the protocol modes in both mode selects (the page reads modes from them)', () => {
    for (const id of ['mode-a', 'mode-b']) {
      const select = html.match(new RegExp(`<select id="${id}"[\\s\\S]*?</select>`))?.[0] ?? '';
      expect([...select.matchAll(/<option value="([^"]+)"/g)].map((m) => m[1])).toEqual([...MODES]);
    }
  });

  it('has no inline script, inline style or event-handler attribute (the CSP forbids them)', () => {
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/\son[a-z]+=/);
  });

  it('sends a strict Content-Security-Policy for every page asset', () => {
    const csp = headers.match(/Content-Security-Policy: (.*)/)?.[1] ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
  });
});

describe('modesOf / fallbackMode', async () => {
  const { modesOf, fallbackMode } = await import('../../src/demo/request.ts');
  const list = { data: [{ id: 'tiny', x_verdict: { modes: ['target', 'exact', 'kl'] } }, { id: 'bare' }] };
  it('reads the modes a model offers', () => {
    expect(modesOf(list, 'tiny')).toEqual(['target', 'exact', 'kl']);
    expect(modesOf(list, 'bare')).toBeNull();
    expect(modesOf(null, 'tiny')).toBeNull();
  });
  it('falls back when the judge is not available', () => {
    expect(fallbackMode(['judge', 'kl', 'exact'], ['target', 'exact', 'kl'])).toBe('kl');
    expect(fallbackMode(['judge', 'kl', 'exact'], null)).toBe('judge');
    expect(fallbackMode(['judge'], ['target'])).toBe('target');
  });
});
