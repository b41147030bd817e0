import { describe, expect, it } from 'vitest';
import { chromiumSkipReason, isCi } from './support/browser.ts';

const missing = () => false;
const present = () => true;

describe('demo tests and a missing chromium', () => {
  it('skip with a message outside CI', () => {
    expect(chromiumSkipReason('/nowhere/chromium', {}, missing)).toMatch(/skipped: no chromium at \/nowhere\/chromium: install it with `apt-get install -y chromium`/);
    expect(chromiumSkipReason('/nowhere/chromium', { CI: 'false' }, missing)).toMatch(/skipped/);
  });

  it('fail under CI, saying how to install it', () => {
    for (const CI of ['true', '1', 'yes']) {
      expect(() => chromiumSkipReason('/nowhere/chromium', { CI }, missing)).toThrow(/cannot run under CI: no chromium at \/nowhere\/chromium: install it with `apt-get install -y chromium`, or set CHROMIUM_PATH/);
    }
  });

  it('run when chromium is there, in CI or not', () => {
    expect(chromiumSkipReason('/usr/bin/chromium', { CI: 'true' }, present)).toBeNull();
    expect(chromiumSkipReason('/usr/bin/chromium', {}, present)).toBeNull();
  });

  it('reads CI as CI providers set it', () => {
    expect(isCi({ CI: 'true' })).toBe(true);
    expect(isCi({ CI: '1' })).toBe(true);
    expect(isCi({ CI: '' })).toBe(false);
    expect(isCi({ CI: '0' })).toBe(false);
    expect(isCi({})).toBe(false);
  });
});
