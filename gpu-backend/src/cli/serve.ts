import { Command } from 'commander';
import { CONFIG_OPTIONS, configFromEnv, type ConfigKey } from '../server/config.ts';
import type { RuntimeModules } from '../scheduler/runtime.ts';
import { startServer } from '../server/start.ts';

/** `verdict serve`: the OpenAI-compatible inference service. Flags override environment variables. */
export function command(runtime?: RuntimeModules): Command {
  const cmd = new Command('serve').description(
    'Serve a bundle over an OpenAI-compatible HTTP API (chat/completions, completions, models, healthz, readyz, metrics), ' +
      'with the engine in worker threads. Every flag can also be set by the environment variable shown.',
  );
  for (const opt of Object.values(CONFIG_OPTIONS)) cmd.option(opt.flag, `${opt.help} [env ${opt.env}]${defaultText(opt.schema)}`);
  cmd.addHelpText('after', '\nExample:\n  verdict serve --bundle models/tiny --port 8080\n  VERDICT_PROVIDERS=cuda,cpu verdict serve --bundle /models/bundle --host 0.0.0.0');
  return cmd.action(async (flags: Partial<Record<ConfigKey, string>>) => {
    const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
    const server = await startServer({ ...configFromEnv(), ...given } as never, runtime);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        process.stderr.write(`verdict serve: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      stopping = true;
      server.close().then(
        () => process.exit(0),
        (err: Error) => {
          process.stderr.write(`verdict serve: shutdown failed: ${err.message}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    // A server that can never become ready is no use: exit non-zero (the log line says why).
    await server.ready.catch(async (err: Error) => {
      await server.close();
      throw new Error(`could not load the bundle: ${err.message}`);
    });
  });
}

/** " (default: x)" from a zod schema's default, for --help. */
function defaultText(schema: unknown): string {
  try {
    const v = (schema as { parse(x: unknown): unknown }).parse(undefined);
    return v === undefined ? '' : ` (default: ${Array.isArray(v) ? v.join(',') : String(v)})`;
  } catch {
    return '';
  }
}
