import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { synthBundle } from '../synth/synth-bundle.ts';
import { isPresetName, PRESETS } from '../synth/presets.ts';

const number = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`not a number: ${v}`);
  return n;
};
const integer = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a non-negative integer: ${v}`);
  return n;
};

export function command(): Command {
  return new Command('synth')
    .description(
      'Write a synthetic model bundle: a Llama-architecture target and a draft made of its first layers ' +
        '(ONNX, Optimum text-generation-with-past I/O plus hidden_states), a byte-level BPE tokenizer.json ' +
        'with readable pseudo-words, and bundle.json with sha256s.',
    )
    .addOption(new Option('--preset <name>', 'model size').choices(Object.keys(PRESETS)).default('tiny'))
    .requiredOption('--out <dir>', 'bundle directory to create')
    .option('--residual-scale <x>', "scale of the target's residual branches beyond the draft's layers (default: the preset's calibrated value)", number)
    .option('--seed <n>', 'weight and vocabulary seed', integer, 0)
    .option('--force', 'replace an existing bundle at --out', false)
    .addHelpText(
      'after',
      `\nPresets:\n${Object.entries(PRESETS)
        .map(([n, c]) => `  ${n.padEnd(6)} d=${c.hiddenSize} layers=${c.numLayers} (draft ${c.draftLayers}) heads=${c.numHeads}/${c.numKvHeads} ffn=${c.intermediateSize} vocab=${c.vocabSize} residual-scale=${c.residualScale}`)
        .join('\n')}\n\nExample:\n  verdict synth --preset tiny --out models/tiny`,
    )
    .action(async (o: { preset: string; out: string; residualScale?: number; seed: number; force: boolean }) => {
      if (!isPresetName(o.preset)) throw new Error(`unknown preset ${o.preset}`);
      const bar = o.preset === 'tiny' || !process.stderr.isTTY ? undefined : new SingleBar({ format: 'synth {bar} {percentage}% {stage}' });
      bar?.start(100, 0, { stage: 'weights' });
      const started = performance.now();
      let lastStage = '';
      const result = await synthBundle({
        preset: o.preset,
        out: o.out,
        seed: o.seed,
        residualScale: o.residualScale,
        force: o.force,
        onProgress: (p) => {
          if (bar) bar.update(Math.round(p.fraction * 100), { stage: p.stage });
          else if (p.stage !== lastStage && o.preset !== 'tiny') process.stderr.write(`synth: ${p.stage}\n`);
          lastStage = p.stage;
        },
      }).finally(() => bar?.stop());
      const m = result.manifest;
      process.stdout.write(
        `wrote ${result.dir} in ${((performance.now() - started) / 1000).toFixed(1)} s: ` +
          `target ${m.target.num_layers} layers, draft ${m.draft.num_layers}, vocab ${m.target.vocab_size}, residual-scale ${result.config.residualScale}\n`,
      );
    });
}
