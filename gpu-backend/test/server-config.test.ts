import { describe, expect, it } from 'vitest';
import { DEFAULT_PREFILL_CHUNK } from '../src/engine/prefill.ts';
import { configFromEnv, parseConfig } from '../src/server/config.ts';

describe('verdict serve configuration', () => {
  it('--prefill-chunk: the engine default unless set, 0 allowed (the whole prompt in one forward), from the flag or VERDICT_PREFILL_CHUNK', () => {
    expect(parseConfig({ bundle: '/x' }).prefillChunk).toBe(DEFAULT_PREFILL_CHUNK);
    expect(parseConfig({ bundle: '/x', prefillChunk: '0' }).prefillChunk).toBe(0);
    expect(parseConfig({ bundle: '/x', ...configFromEnv({ VERDICT_PREFILL_CHUNK: '256' }) }).prefillChunk).toBe(256);
  });

  it('refuses a bad --prefill-chunk, naming the flag and the variable', () => {
    expect(() => parseConfig({ bundle: '/x', prefillChunk: '-1' })).toThrow(/--prefill-chunk \/ VERDICT_PREFILL_CHUNK: must be at least 0/);
    expect(() => parseConfig({ bundle: '/x', prefillChunk: '1.5' })).toThrow(/--prefill-chunk \/ VERDICT_PREFILL_CHUNK: must be a whole number/);
    expect(() => parseConfig({ bundle: '/x', prefillChunk: 'many' })).toThrow(/--prefill-chunk \/ VERDICT_PREFILL_CHUNK: must be a whole number/);
  });

  it('--cpu-arena: off unless set; on or off', () => {
    expect(parseConfig({ bundle: '/x' }).cpuArena).toBe('off');
    expect(parseConfig({ bundle: '/x', ...configFromEnv({ VERDICT_CPU_ARENA: 'on' }) }).cpuArena).toBe('on');
    expect(() => parseConfig({ bundle: '/x', cpuArena: 'maybe' })).toThrow(/--cpu-arena \/ VERDICT_CPU_ARENA: Invalid option: expected one of "on"\|"off"/);
  });

  it('a whole-number setting out of range says its bound', () => {
    expect(() => parseConfig({ bundle: '/x', port: '70000' })).toThrow(/--port \/ VERDICT_PORT: must be at most 65535/);
    expect(() => parseConfig({ bundle: '/x', workers: '0' })).toThrow(/--workers \/ VERDICT_WORKERS: must be at least 1/);
  });
});
