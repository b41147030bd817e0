import { command } from '../cli/serve.ts';
import type { RuntimeModules } from '../scheduler/runtime.ts';

/**
 * `verdict serve` as the launcher (launch.mjs) runs it: through tsx, or precompiled by esbuild,
 * in which case `runtime` points the worker threads at the compiled worker, engine and loader.
 */
export async function runServe(argv: string[], name: string, runtime?: RuntimeModules): Promise<void> {
  try {
    await command(runtime).name(name).parseAsync(argv);
  } catch (err) {
    process.stderr.write(`verdict serve: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
