import { Command } from 'commander';
import { collectCommand, mineCommand } from './judge-data.ts';
import { evalCommand } from './judge-eval.ts';
import { bundleCommand, foldCommand, trainCommand } from './judge-train.ts';
import { prepareBundleHidden } from '../import/prepare.ts';
import { loadBundle } from '../bundle/load.ts';

/** `verdict judge`: make, check and ship judge heads. */
export function command(): Command {
  return new Command('judge')
    .description('Judge heads: mine labelled data, collect target hidden states, train, evaluate, fold into the target graph.')
    .addCommand(prepareCommand())
    .addCommand(mineCommand())
    .addCommand(collectCommand())
    .addCommand(trainCommand())
    .addCommand(evalCommand())
    .addCommand(foldCommand())
    .addCommand(bundleCommand());
}

function prepareCommand(): Command {
  return new Command('prepare')
    .description(
      "Give a bundle's target the hidden_states output a judge head reads: the final norm's output, found as the activation " +
        'input of the MatMul/Gemm that produces logits (tied heads and fp16 Casts included). Weights and external data are untouched; ' +
        '`verdict import` does this already.',
    )
    .argument('<bundle>', 'model bundle directory')
    .action(async (bundle: string) => {
      const r = await prepareBundleHidden(bundle);
      await loadBundle(bundle); // every hash checks out
      process.stdout.write(r.changed ? `${bundle}: hidden_states = ${r.from} (target sha256 ${r.targetSha256.slice(0, 12)}…)\n` : `${bundle}: the target already has hidden_states\n`);
    });
}
