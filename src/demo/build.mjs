// Bundles the demo page's TypeScript (src/demo/page/main.ts) into public/demo/app.js, which wrangler serves as a
// static asset. Run by wrangler before `dev`/`deploy` ([build] in wrangler.toml) and by the demo e2e test.
// esbuild is the one wrangler itself uses, so this needs no extra install. Usage: node src/demo/build.mjs [--watch]
import { build, context } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const options = {
  absWorkingDir: root,
  entryPoints: ['src/demo/page/main.ts'],
  outfile: 'public/demo/app.js',
  bundle: true,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
};

/** The source files the page's bundle is made of (built in memory, nothing written). */
export async function demoInputs() {
  const result = await build({ ...options, write: false, metafile: true });
  return Object.keys(result.metafile.inputs);
}

export async function buildDemo() {
  const result = await build({ ...options, metafile: true });
  return result.metafile.outputs['public/demo/app.js'].bytes;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--watch')) {
    const ctx = await context(options);
    await ctx.watch();
    console.log('demo page: watching src/demo for changes');
  } else {
    const bytes = await buildDemo();
    console.log(`demo page: public/demo/app.js (${(bytes / 1024).toFixed(1)} KiB)`);
  }
}
