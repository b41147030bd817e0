/**
 * The demo page imports the protocol through its zod-free entry (`@verdict/protocol/browser`): the validation
 * schemas, and zod with them, never reach the page's bundle, and the page has no relative path into protocol/.
 */
import { describe, expect, it } from 'vitest';
import { demoInputs } from '../../src/demo/build.mjs';

describe('demo bundle', () => {
  it('holds the browser entry of the protocol and nothing of zod or the schemas', async () => {
    const inputs = await demoInputs();
    expect(inputs.some((f) => f.startsWith('src/demo/page/'))).toBe(true);
    expect(inputs).toContain('protocol/src/vocabulary.ts');
    expect(inputs.filter((f) => f.includes('node_modules/zod'))).toEqual([]);
    expect(inputs.filter((f) => /protocol\/src\/(requests|errors|speculative)\.ts$/.test(f))).toEqual([]);
  });
});
