// How `verdict serve` starts, in plain JavaScript so that nothing heavy is loaded before these
// two decisions (docs/performance.md, "Memory of verdict serve", has the measurements):
//
// 1. glibc malloc (`--malloc tuned`, the default on Linux): loading an ONNX model allocates and
//    frees about twice its weights in transient buffers (the protobuf, unpacked initializers).
//    glibc's dynamic mmap threshold puts them on the heap, where the holes are never returned to
//    the OS, so RSS keeps the load's peak for the life of the process. A fixed
//    MALLOC_MMAP_THRESHOLD_ (which also switches the dynamic threshold off) sends every buffer of
//    1 MiB or more to its own mmap, returned on free; MALLOC_ARENA_MAX caps per-thread arenas.
//    malloc reads these only at process start, so when they are not already in the environment
//    the launcher runs the server as a child process with them set, forwarding signals and the
//    exit code (set them yourself, as the Dockerfile does, to avoid that extra process).
// 2. Precompiled JavaScript (`--precompile on`, the default): tsx's loader costs every isolate
//    that registers it (the HTTP thread and each worker) tens of MB of RSS, so the server, worker,
//    engine and bundle loader are bundled once with esbuild into a cache directory (keyed by a
//    hash of the sources) and run from there, with code splitting: modules that several entries
//    import (the protocol, zod) are one shared chunk, evaluated once per isolate, where each entry
//    used to carry, and evaluate, a copy of its own. `--precompile off` runs the TypeScript through tsx.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const SRC = resolve(HERE, '..');
const PROTOCOL_SRC = resolve(SRC, '../../protocol/src');

/** The environment `--malloc tuned` runs the server with. */
export const TUNED_MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '1048576', MALLOC_ARENA_MAX: '2' };

/** A launcher setting from `--flag value` / `--flag=value` or its environment variable. */
function setting(argv, flag, env, fallback) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag && i + 1 < argv.length) return argv[i + 1];
    if (argv[i].startsWith(`${flag}=`)) return argv[i].slice(flag.length + 1);
  }
  return process.env[env] || fallback;
}

/**
 * Runs `verdict serve`. `flags` are serve's flags (after the subcommand), `name` the program name
 * for --help. Resolves when the server is up; the process exits when it stops.
 */
export async function launchServe(flags, name = 'verdict serve') {
  const help = flags.includes('--help') || flags.includes('-h');
  const malloc = setting(flags, '--malloc', 'VERDICT_MALLOC', 'tuned');
  if (!help && malloc === 'tuned' && process.platform === 'linux' && Object.keys(TUNED_MALLOC_ENV).some((k) => process.env[k] === undefined)) {
    return respawnWith(TUNED_MALLOC_ENV);
  }
  watchLauncher();
  const argv = [process.argv[0], name, ...flags];
  if (setting(flags, '--precompile', 'VERDICT_PRECOMPILE', 'on') === 'on' && !help) {
    let out;
    try {
      out = await compileServe();
    } catch (err) {
      process.stderr.write(`${name}: could not precompile the server (${err instanceof Error ? err.message : String(err)}); running it through tsx\n`);
    }
    if (out) {
      const { runServe } = await import(pathToFileURL(join(out, 'serve-main.mjs')).href);
      const at = (f) => pathToFileURL(join(out, f)).href;
      return runServe(argv, name, { workerEntry: at('worker.mjs'), engine: at('engine.mjs'), bundle: at('load.mjs') });
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  const { runServe } = await import('./serve-main.ts');
  return runServe(argv, name);
}

/**
 * Re-runs this very command as a child with `env` added; this process only relays signals and the
 * exit status. The child gets its own process group, so a Ctrl-C in a terminal reaches it once
 * (relayed) rather than twice (which the server reads as "exit now"), and it stops by itself if
 * this process disappears without relaying anything (SIGKILL).
 */
function respawnWith(env) {
  // The IPC channel is the child's lifeline: it closes the moment this process dies, however it died.
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: true,
    env: { ...process.env, ...env, VERDICT_LAUNCHER_PID: String(process.pid) },
  });
  child.channel?.unref();
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  return new Promise(() => {});
}

/**
 * In a server the launcher re-ran: the launcher relays SIGTERM/SIGINT for a graceful stop, so its
 * disappearance without a word (SIGKILL, a crash) means the service was killed: exit at once, as
 * the launcher did, rather than serve on unseen.
 */
export function watchLauncher() {
  if (!process.env.VERDICT_LAUNCHER_PID || !process.channel) return;
  process.channel.unref();
  process.once('disconnect', () => process.exit(137));
}

/** Every source file the compiled server can contain, for the cache key. */
function sourceFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mjs|js|json)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** Bundles serve-main, the worker, the engine and the bundle loader (cached); returns the directory. */
export async function compileServe() {
  const hash = createHash('sha256');
  for (const f of [...sourceFiles(SRC), ...sourceFiles(PROTOCOL_SRC)]) hash.update(f).update(readFileSync(f));
  const require = createRequire(createRequire(import.meta.url).resolve('tsx'));
  const esbuildPath = require.resolve('esbuild');
  hash.update(esbuildPath).update(String(statSync(esbuildPath).mtimeMs));
  const key = hash.digest('hex').slice(0, 16);
  const root = join(process.env.VERDICT_CACHE_DIR || tmpdir(), `verdict-serve-${process.getuid?.() ?? 'u'}`);
  const out = join(root, key);
  if (existsSync(join(out, 'serve-main.mjs'))) return out;
  const esbuild = require('esbuild');
  // onnxruntime-node and koffi are native: keep them external, imported by absolute path so the cache can live anywhere.
  const native = { 'onnxruntime-node': createRequire(join(SRC, 'engine', 'session.ts')).resolve('onnxruntime-node'), koffi: createRequire(join(SRC, 'scheduler', 'reclaim.ts')).resolve('koffi') };
  const tmp = `${out}.${process.pid}.tmp`;
  mkdirSync(tmp, { recursive: true });
  await esbuild.build({
    entryPoints: {
      'serve-main': join(SRC, 'server', 'serve-main.ts'),
      worker: join(SRC, 'scheduler', 'worker.ts'),
      engine: join(SRC, 'engine', 'engine.ts'),
      load: join(SRC, 'bundle', 'load.ts'),
    },
    outdir: tmp,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    logLevel: 'warning',
    // CommonJS dependencies bundled into ESM still call require().
    banner: { js: "import { createRequire as __verdictRequire } from 'node:module'; const require = __verdictRequire(import.meta.url);" },
    plugins: [{ name: 'native-external', setup: (b) => b.onResolve({ filter: /^(onnxruntime-node|koffi)$/ }, (a) => ({ path: pathToFileURL(native[a.path]).href, external: true })) }],
  });
  await esbuild.stop?.();
  try {
    renameSync(tmp, out);
  } catch (err) {
    // Another server compiled the same sources first: use its output, drop ours.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(out, 'serve-main.mjs'))) throw err;
  }
  return out;
}
