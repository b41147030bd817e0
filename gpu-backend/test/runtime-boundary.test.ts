/**
 * Tools depend on the engine, never the reverse, and stay out of the runtime image. The import
 * graph of what `verdict serve` runs (the server entry, the worker entry, the ONNX runtime module)
 * is computed by esbuild from the sources, then checked against the Dockerfile's COPY lines and
 * gpu-backend/package.json's runtime dependencies.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRIES = ['gpu-backend/src/server/bin.mjs', 'gpu-backend/src/scheduler/worker-entry.mjs', 'gpu-backend/src/engine/engine.ts', 'gpu-backend/src/bundle/load.ts'];
const TOOL_DIRS = ['synth', 'judge', 'import', 'hub', 'bench', 'fidelity'].map((d) => `gpu-backend/src/${d}/`);

let files: string[];
let packages: Set<string>;

beforeAll(async () => {
  const r = await esbuild.build({ entryPoints: ENTRIES, absWorkingDir: ROOT, bundle: true, platform: 'node', format: 'esm', write: false, metafile: true, outdir: 'out', packages: 'external', logLevel: 'silent' });
  files = Object.keys(r.metafile.inputs).filter((f) => f.startsWith('gpu-backend/src/'));
  packages = new Set();
  for (const out of Object.values(r.metafile.outputs)) {
    for (const i of out.imports) {
      if (!i.external || i.path.startsWith('node:')) continue;
      const parts = i.path.split('/');
      packages.add(parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]);
    }
  }
});

describe('the serving runtime', () => {
  it('imports no tool module', () => {
    expect(files.length).toBeGreaterThan(20);
    expect(files.filter((f) => TOOL_DIRS.some((d) => f.startsWith(d)))).toEqual([]);
    expect(files.filter((f) => f.startsWith('gpu-backend/src/cli/'))).toEqual(['gpu-backend/src/cli/serve.ts']);
  });

  it('is exactly what the Dockerfile copies', async () => {
    const dockerfile = await readFile(`${ROOT}/gpu-backend/Dockerfile`, 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (gpu-backend\/src\/\S+) /gm)].map((m) => m[1]);
    expect(copied.length).toBeGreaterThan(0);
    const covered = (f: string) => copied.some((c) => f === c || f.startsWith(`${c}/`));
    expect(files.filter((f) => !covered(f)), 'runtime files the image lacks').toEqual([]);
    for (const c of copied) expect(TOOL_DIRS.some((d) => c.startsWith(d)), `${c} is a tool`).toBe(false);
  });

  it('needs only gpu-backend runtime dependencies; tool packages are devDependencies', async () => {
    const pkg = JSON.parse(await readFile(`${ROOT}/gpu-backend/package.json`, 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect([...packages].filter((p) => !(p in pkg.dependencies)), 'imported at runtime but not a dependency').toEqual([]);
    expect(Object.keys(pkg.dependencies).filter((d) => !packages.has(d)), 'dependencies the runtime never imports').toEqual([]);
    for (const tool of ['vega', 'vega-lite', 'onnx-proto', 'cli-progress', '@huggingface/hub']) expect(pkg.devDependencies).toHaveProperty([tool]);
  });
});
