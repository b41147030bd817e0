import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { synthBundle } from '../synth/synth-bundle.ts';
import { judgeSynthStep } from '../judge/bundle-judge.ts';
import { isPresetName, PRESETS, type PresetName } from '../synth/presets.ts';
import { formatSweepRow, SWEEP_HEADER, sweepResidualScale } from '../synth/calibrate.ts';
import { nonNegative, nonNegativeInt, positiveInt } from './options.ts';

const numberList = (v: string): number[] => v.split(',').map((x) => nonNegative(x.trim()));

interface SynthFlags {
  preset: string;
  out?: string;
  residualScale?: number;
  judgeSignal?: number;
  seed: number;
  force: boolean;
  sweep?: number[];
  prompts: number;
  independentDraftSeed?: number;
  judge: boolean;
}

export function command(): Command {
  return new Command('synth')
    .description(
      'Write a synthetic model bundle: a Llama-architecture target and a draft made of its first layers ' +
        '(ONNX, Optimum text-generation-with-past I/O plus hidden_states), a byte-level BPE tokenizer.json ' +
        'with readable pseudo-words, and bundle.json with sha256s.',
    )
    .addOption(new Option('--preset <name>', 'model size').choices(Object.keys(PRESETS)).default('tiny'))
    .option('--out <dir>', 'bundle directory to create (written to a temp dir, renamed when complete)')
    .option('--residual-scale <x>', "scale of the target's residual branches beyond the draft's layers (default: the preset's calibrated value)", nonNegative)
    .option(
      '--judge-signal <x>',
      "surprise feature in the target's hidden_states (how far it moves per nat of token surprise, so a linear judge head has something to learn; 0 = off; default: the preset's)",
      nonNegative,
    )
    .option('--seed <n>', 'weight and vocabulary seed', nonNegativeInt, 0)
    .option('--force', 'replace an existing bundle at --out', false)
    .option('--no-judge', 'skip training the judge head (mine → collect → train, ratio:0.5) that ships in judge.json')
    .option('--independent-draft-seed <n>', 'draft from independent random weights (a deliberately bad draft, for tests)', nonNegativeInt)
    .option('--sweep <scales>', 'instead of writing a bundle, measure greedy draft/target agreement for each comma-separated residual scale', numberList)
    .option('--prompts <n>', 'with --sweep: random prompts to continue greedily (48 tokens each)', positiveInt, 8)
    .addHelpText(
      'after',
      `\nPresets:\n${Object.entries(PRESETS)
        .map(([n, c]) => `  ${n.padEnd(6)} d=${c.hiddenSize} layers=${c.numLayers} (draft ${c.draftLayers}) heads=${c.numHeads}/${c.numKvHeads} ffn=${c.intermediateSize} vocab=${c.vocabSize} residual-scale=${c.residualScale} judge-signal=${c.judgeSignal} word-prior=${c.wordPrior}`)
        .join('\n')}\n\nExamples:\n  verdict synth --preset tiny --out models/tiny\n  verdict synth --preset bench --out models/bench\n  verdict synth --preset tiny --sweep 0.05,0.1,0.2,0.5`,
    )
    .action(async (o: SynthFlags) => {
      if (!isPresetName(o.preset)) throw new Error(`unknown preset ${o.preset}`);
      if (o.sweep) return sweep(o.preset, o.sweep, o.seed, o.prompts);
      if (!o.out) throw new Error("synth: --out <dir> is required (or --sweep to only measure agreement)");
      await write(o.preset, o.out, o);
    });
}

async function sweep(preset: PresetName, scales: number[], seed: number, prompts: number): Promise<void> {
  process.stdout.write(`${preset}: greedy draft/target agreement (disagreements: draft token is target's 2nd / in top 5 / its mean target prob)\n${SWEEP_HEADER}\n`);
  const { steps } = await sweepResidualScale(preset, scales, {
    weightSeed: seed,
    agreement: { prompts, genLen: 48 },
    timeSteps: true,
    onRow: (r) => process.stdout.write(`${formatSweepRow(r)}\n`),
  });
  if (steps) {
    process.stdout.write(
      `decode step (1 token after 64, 1 thread): target ${steps.targetMs.toFixed(3)} ms, draft ${steps.draftMs.toFixed(3)} ms, ratio ${(steps.targetMs / steps.draftMs).toFixed(1)}\n`,
    );
  }
}

async function write(preset: PresetName, out: string, o: SynthFlags): Promise<void> {
  const showBar = preset !== 'tiny' && process.stderr.isTTY;
  const bar = showBar ? new SingleBar({ format: 'synth {bar} {percentage}% {stage}' }) : undefined;
  bar?.start(100, 0, { stage: 'weights' });
  const started = performance.now();
  let lastStage = '';
  const result = await synthBundle({
    preset,
    out,
    seed: o.seed,
    residualScale: o.residualScale,
    judgeSignal: o.judgeSignal,
    force: o.force,
    independentDraftSeed: o.independentDraftSeed,
    // The judge head (mine → collect → train on the new models) is a tool step, run before bundle.json is written.
    extraSteps: o.judge ? [judgeSynthStep({ log: (line) => process.stderr.write(`${line}\n`) })] : [],
    onProgress: (p) => {
      if (bar) bar.update(Math.round(p.fraction * 100), { stage: p.stage });
      else if (p.stage !== lastStage && preset !== 'tiny') process.stderr.write(`synth: ${p.stage} (${Math.round(p.fraction * 100)}%)\n`);
      lastStage = p.stage;
    },
  }).finally(() => bar?.stop());
  const m = result.manifest;
  process.stdout.write(
    `wrote ${result.dir} in ${((performance.now() - started) / 1000).toFixed(1)} s: ` +
      `target ${m.target.num_layers} layers, draft ${m.draft.num_layers}, vocab ${m.target.vocab_size}, residual-scale ${result.config.residualScale}, judge-signal ${result.config.judgeSignal}\n`,
  );
}
