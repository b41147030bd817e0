import { Command, Option } from 'commander';
import { importBundle } from '../import/import-bundle.ts';
import { DTYPES, DTYPE_FILES, isDtype } from '../import/hf-export.ts';
import { positiveInt } from './options.ts';

interface ImportFlags {
  target: string;
  draft: string;
  out: string;
  dtype: string;
  name?: string;
  addBos?: boolean;
  maxContext?: number;
  force: boolean;
}

export function command(): Command {
  return new Command('import')
    .description(
      'Make a bundle from two Hugging Face decoder exports (Optimum / transformers.js layout): a target and a smaller draft ' +
        'that shares its tokenizer. Shapes come from config.json and are cross-checked against the ONNX graphs; BOS/EOS from ' +
        'generation_config.json; the chat template from tokenizer_config.json or chat_template.jinja. The target gets a ' +
        "hidden_states output (the final norm's output) so a judge head can be trained on it.",
    )
    .requiredOption('--target <dir>', 'export directory of the target (config.json, tokenizer.json, onnx/model*.onnx)')
    .requiredOption('--draft <dir>', 'export directory of the draft (same tokenizer)')
    .requiredOption('--out <dir>', 'bundle directory to create (written to a temp dir, renamed when complete)')
    .addOption(new Option('--dtype <dtype>', `which graph variant to use (${DTYPES.map((d) => `${d}: ${DTYPE_FILES[d].join('|')}`).join('; ')})`).choices(DTYPES).default('fp32'))
    .option('--name <name>', "model name clients ask for (default: the target directory's name)")
    .option('--add-bos', 'prepend BOS to every prompt (default: when the tokenizer adds it itself, or BOS is also the end-of-text separator)')
    .option('--no-add-bos', 'never prepend BOS')
    .option('--max-context <n>', "context length (default: config.json's max_position_embeddings, or the tokenizer's smaller model_max_length)", positiveInt)
    .option('--force', 'replace an existing bundle at --out', false)
    .addHelpText(
      'after',
      '\nONNX files and external data are hard-linked into the bundle when on the same file system, else copied; nothing is read whole into memory.\n' +
        'Refused, with the file and field named: tokenizers that differ, a graph without the text-generation-with-past I/O,\n' +
        'the older split/merged decoder layouts, float16 I/O, and a --dtype the export does not have (the ones present are listed).\n\n' +
        'Example:\n  verdict import --target ../shared/models/tinystories-ple/ple-c3M-s0 --draft ../shared/models/tinystories-ple/ple-c1M-s0 --out models/ple',
    )
    .action(async (o: ImportFlags) => {
      if (!isDtype(o.dtype)) throw new Error(`unknown dtype ${o.dtype}`);
      const t0 = performance.now();
      const res = await importBundle({
        target: o.target,
        draft: o.draft,
        out: o.out,
        dtype: o.dtype,
        name: o.name,
        addBos: o.addBos,
        maxContext: o.maxContext,
        force: o.force,
        onStage: (s) => process.stderr.write(`import: ${s}\n`),
      });
      const m = res.manifest;
      process.stdout.write(
        `${res.dir}: bundle "${m.name}" — target ${m.target.num_layers} layers × ${m.target.hidden_size}, draft ${m.draft.num_layers} layers × ${m.draft.hidden_size}, ` +
          `vocab ${m.target.vocab_size}, context ${m.max_context}, BOS ${m.bos_token_id ?? 'none'}, EOS [${m.eos_token_ids.join(', ')}]` +
          `${m.chat_template ? ', chat template' : ', no chat template'}; ` +
          `${res.hiddenFrom ? `hidden_states = ${res.hiddenFrom}` : 'hidden_states was already an output'} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
      );
    });
}
