import { Command } from 'commander';
import { collectCommand, mineCommand } from './judge-data.ts';
import { evalCommand } from './judge-eval.ts';
import { bundleCommand, foldCommand, trainCommand } from './judge-train.ts';

/** `verdict judge`: make, check and ship judge heads. */
export function command(): Command {
  return new Command('judge')
    .description('Judge heads: mine labelled data, collect target hidden states, train, evaluate, fold into the target graph.')
    .addCommand(mineCommand())
    .addCommand(collectCommand())
    .addCommand(trainCommand())
    .addCommand(evalCommand())
    .addCommand(foldCommand())
    .addCommand(bundleCommand());
}
