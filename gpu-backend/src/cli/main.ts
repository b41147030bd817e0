import { Command, CommanderError } from 'commander';

/**
 * `verdict <command>`. Each subcommand lives in its own file under cli/ and only parses flags
 * before handing over to the module that does the work.
 */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('verdict')
    .description('Verdict: speculative decoding with judge verification on ONNX decoders.')
    .showHelpAfterError()
    .exitOverride();
  const commands = await Promise.all([
    // Each module exports `command(): Command`.
    import('./synth.ts').then((m) => m.command()),
    import('./import.ts').then((m) => m.command()),
    import('./judge.ts').then((m) => m.command()),
    import('./generate.ts').then((m) => m.command()),
    import('./serve.ts').then((m) => m.command()),
    import('./bench.ts').then((m) => m.command()),
    import('./pull.ts').then((m) => m.command()),
    import('./fidelity.ts').then((m) => m.command()),
  ]);
  for (const c of commands as Command[]) program.addCommand(c);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`verdict: ${msg}\n`);
    if (process.env.VERDICT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  }
}
