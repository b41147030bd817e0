import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { DTYPES, hubSettings, parseRepoSpec, pullModel, type Dtype, type PullEvents } from '../hub/pull.ts';

const mb = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`);

/** A bytes bar with the current file's name on a terminal; one line per finished file otherwise. */
function progress(): { events: PullEvents; stop: () => void } {
  const tty = Boolean(process.stderr.isTTY);
  const bar = tty
    ? new SingleBar({ format: 'pull {bar} {percentage}% {done}/{all} {file}', stream: process.stderr, hideCursor: true, fps: 5 })
    : undefined;
  let value = 0;
  let total = 0;
  const update = (file: string) => bar?.update(Math.max(0, Math.min(value, total)), { done: mb(value), all: mb(total), file });
  let finished = 0;
  return {
    events: {
      plan: ({ files, totalBytes, missingOptional }) => {
        total = totalBytes;
        if (missingOptional.length) process.stderr.write(`pull: the repo has no ${missingOptional.join(', ')} (optional)\n`);
        if (!tty) process.stderr.write(`pull: ${files.length} files, ${mb(totalBytes)}\n`);
        bar?.start(Math.max(totalBytes, 1), 0, { done: mb(0), all: mb(totalBytes), file: '' });
      },
      fileStart: (file) => update(file),
      progress: (file, n) => {
        value += n;
        update(file);
      },
      fileDone: (f) => {
        finished += f.size;
        value = finished;
        update(f.path);
        if (!tty) {
          const how = f.status === 'present' ? 'already present, checked' : f.status === 'resumed' ? `resumed at ${mb(f.resumedFrom)}, checked` : 'checked';
          process.stderr.write(`pull: ${f.path} ${mb(f.size)} (${how})\n`);
        }
      },
    },
    stop: () => bar?.stop(),
  };
}

export function command(): Command {
  return new Command('pull')
    .description(
      'Download what `verdict import` needs from a Hugging Face model repo: config.json, generation_config.json, ' +
        'tokenizer.json, tokenizer_config.json, special_tokens_map.json and chat_template.jinja when present, and the ONNX ' +
        'decoder of the chosen dtype (onnx/model*.onnx, Optimum/transformers.js layout) with its external data files. ' +
        'Each file streams to DIR/<path>.part, resumes with a Range request when interrupted, and is renamed into place ' +
        "only after its size and sha256 (LFS) or git blob id match the Hub's listing; files already present and correct are skipped.",
    )
    .argument('<repo>', 'model repo id, OWNER/NAME[@REVISION] (revision: branch, tag or commit; default main)')
    .requiredOption('--out <dir>', 'directory to download into (created; files keep their repo paths)')
    .addOption(new Option('--dtype <dtype>', 'decoder weights: fp32 = onnx/model.onnx, fp16 = model_fp16.onnx, q8 = model_quantized.onnx (or model_int8/model_uint8), q4 = model_q4.onnx').choices(DTYPES).default('fp32'))
    .addHelpText(
      'after',
      `
Environment:
  HF_ENDPOINT   Hub URL (default https://huggingface.co), e.g. a mirror
  HF_TOKEN      access token for private or gated repos (HUGGING_FACE_HUB_TOKEN is read as a fallback)

Examples:
  verdict pull HuggingFaceTB/SmolLM2-360M-Instruct --out models/hf/smollm2-360m
  verdict pull HuggingFaceTB/SmolLM2-135M-Instruct@main --out models/hf/smollm2-135m --dtype fp16
  verdict import --target models/hf/smollm2-360m --draft models/hf/smollm2-135m --out models/smollm2`,
    )
    .action(async (spec: string, o: { out: string; dtype: Dtype }) => {
      const { repo, revision } = parseRepoSpec(spec);
      const settings = hubSettings();
      const p = progress();
      const started = performance.now();
      const result = await pullModel({ repo, revision, out: o.out, dtype: o.dtype, settings, events: p.events }).finally(p.stop);
      const fetched = result.files.filter((f) => f.status !== 'present').length;
      process.stdout.write(
        `pulled ${repo}@${revision} (${result.dtype}: ${result.decoder}) into ${result.dir} in ${((performance.now() - started) / 1000).toFixed(1)} s: ` +
          `${result.files.length} files, ${fetched} fetched (${mb(result.bytesDownloaded)}), ${result.files.length - fetched} already present\n`,
      );
    });
}
