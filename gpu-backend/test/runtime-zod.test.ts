/**
 * Every runtime schema is written with zod/mini (protocol/src/zod.ts says why: zod's classic API costs each
 * isolate about 5 MiB). These bundle what `verdict serve` runs and what the gateway Worker runs,
 * exactly as esbuild would, and require that no module of zod's classic API is in them, so one
 * `import { z } from 'zod'` in a runtime file fails here. The tools (bench, judge) may use classic.
 */
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';
import * as z from '@verdict/protocol/zod';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function zodInputs(entryPoints: string[], platform: 'node' | 'browser'): Promise<string[]> {
  const r = await esbuild.build({
    entryPoints,
    absWorkingDir: ROOT,
    bundle: true,
    platform,
    format: 'esm',
    write: false,
    metafile: true,
    outdir: 'out',
    logLevel: 'silent',
    // Native modules and the Workers runtime's own are not bundled.
    external: ['onnxruntime-node', 'koffi', 'cloudflare:*', 'node:*'],
    conditions: platform === 'browser' ? ['workerd', 'worker', 'browser'] : [],
  });
  return Object.keys(r.metafile.inputs).filter((f) => f.includes('node_modules/zod/'));
}

describe('zod in the runtime bundles', () => {
  it('verdict serve (HTTP thread, worker, engine, bundle loader) has zod/mini and none of the classic API', async () => {
    const inputs = await zodInputs(['gpu-backend/src/server/serve-main.ts', 'gpu-backend/src/scheduler/worker.ts', 'gpu-backend/src/engine/engine.ts', 'gpu-backend/src/bundle/load.ts'], 'node');
    expect(inputs.some((f) => f.includes('/v4/mini/'))).toBe(true);
    expect(inputs.filter((f) => f.includes('/v4/classic/'))).toEqual([]);
  });

  it('the gateway Worker has zod/mini and none of the classic API', async () => {
    const inputs = await zodInputs(['src/index.ts'], 'browser');
    expect(inputs.some((f) => f.includes('/v4/mini/'))).toBe(true);
    expect(inputs.filter((f) => f.includes('/v4/classic/'))).toEqual([]);
  });

  it('speaks English: mini sets no locale, @verdict/protocol/zod does', () => {
    const r = z.number().check(z.gte(0)).safeParse(-1);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].message).toBe('Too small: expected number to be >=0');
  });
});
