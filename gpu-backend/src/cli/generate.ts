import { Command, InvalidArgumentError, Option } from 'commander';
import { MAX_K, MODES, round, type Mode } from '@verdict/protocol';
import { loadBundle } from '../bundle/load.ts';
import { createEngine, greedyRequest } from '../engine/engine.ts';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../engine/session.ts';
import type { DecodeStats } from '../engine/types.ts';
import { ENTROPY_DEFAULTS } from '../engine/types.ts';

const number = (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`not a number: ${v}`);
  return n;
};
const integer = (v: string): number => {
  const n = number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`not an integer: ${v}`);
  return n;
};
const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface GenerateFlags {
  bundle: string;
  prompt: string;
  mode: Mode;
  k: number;
  threshold?: number;
  klThreshold: number;
  klConfidence: number;
  entropyThreshold: number;
  entropyWindow: number;
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  stop: string[];
  json: boolean;
  ep: ExecutionProvider[];
  threads: number;
}

export function command(): Command {
  return new Command('generate')
    .description('Generate text from a bundle with one decoding mode; streams the text (stats on stderr), or prints one JSON object with --json.')
    .requiredOption('--bundle <dir>', 'model bundle directory (bundle.json)')
    .option('--prompt <text>', 'prompt text (BOS is prepended when the bundle has one); default: start from BOS alone, as an unconditional sample', '')
    .addOption(new Option('--mode <mode>', 'verification mode').choices(MODES).default('exact'))
    .option('--k <n>', `draft tokens per step (1..${MAX_K})`, integer, 4)
    .option('--threshold <x>', "judge: accept when sigmoid(w·h+b) >= x (default: the head's own)", number)
    .option('--kl-threshold <x>', 'kl: accept where KL(p_target || p_draft) <= x nats', number, 0.5)
    .option('--kl-confidence <x>', "kl: where the target's top-1 probability exceeds x, only the exact rule decides", number, 0.9)
    .option('--entropy-threshold <x>', "entropy: keep a mismatch only where the target's entropy is at least x nats", number, ENTROPY_DEFAULTS.threshold)
    .option('--entropy-window <n>', "entropy: following draft tokens that must be the target's argmax", integer, ENTROPY_DEFAULTS.window)
    .option('--max-tokens <n>', 'maximum tokens to generate', integer, 64)
    .option('--temperature <t>', '0 = greedy', number, 0)
    .option('--top-p <p>', 'nucleus sampling mass (1 = off)', number, 1)
    .option('--top-k <n>', 'keep the k most likely tokens (0 = off)', integer, 0)
    .option('--seed <n>', 'sampling seed (reproducible)', integer, 0)
    .option('--stop <text>', 'stop sequence (repeatable); not included in the output', collect, [])
    .option('--json', 'print exactly one JSON object {text, tokens, stats}', false)
    .addOption(new Option('--ep <provider...>', 'ONNX Runtime execution providers, in order of preference').choices(EXECUTION_PROVIDERS).default(['cpu']))
    .option('--threads <n>', 'ONNX Runtime intra-op threads (0 = one per core)', integer, 0)
    .action(generate);
}

async function generate(f: GenerateFlags): Promise<void> {
  const bundle = await loadBundle(f.bundle);
  const promptIds = bundle.encodePrompt(f.prompt);
  if (promptIds.length === 0) throw new Error(`--prompt is empty and ${f.bundle} has no BOS token to start from: give the text to continue`);
  const engine = await createEngine(bundle, { executionProviders: f.ep, intraOpThreads: f.threads });
  try {
    const req = greedyRequest(promptIds, {
      mode: f.mode,
      k: f.k,
      threshold: f.threshold,
      klThreshold: f.klThreshold,
      klConfidence: f.klConfidence,
      entropyThreshold: f.entropyThreshold,
      entropyWindow: f.entropyWindow,
      maxTokens: f.maxTokens,
      temperature: f.temperature,
      topP: f.topP,
      topK: f.topK,
      seed: f.seed,
      stop: f.stop,
    });
    const ac = new AbortController();
    const onSigint = () => ac.abort();
    process.once('SIGINT', onSigint);
    try {
      for await (const ev of engine.decode(req, ac.signal)) {
        if (ev.type === 'step' && !f.json && ev.text) process.stdout.write(ev.text);
        if (ev.type !== 'done') continue;
        if (f.json) {
          process.stdout.write(`${JSON.stringify({ text: ev.text, tokens: ev.tokens, finish_reason: ev.finishReason, stats: jsonStats(ev.stats) })}\n`);
        } else {
          process.stdout.write('\n');
          process.stderr.write(`${statsLine(f.mode, ev.finishReason, ev.stats)}\n`);
        }
      }
    } finally {
      process.off('SIGINT', onSigint);
    }
  } finally {
    await engine.dispose();
  }
}

function jsonStats(s: DecodeStats) {
  return {
    steps: s.steps,
    drafted: s.drafted,
    accepted: s.accepted,
    mean_accepted_per_step: round(s.meanAcceptedPerStep),
    tokens_per_s: round(s.tokensPerS, 1),
    draft_ms: round(s.draftMs),
    verify_ms: round(s.verifyMs),
    judge_ms: round(s.judgeMs),
    // beyond the documented fields:
    judge_accepted: s.judgeAccepted,
    rollback_ms: round(s.rollbackMs),
    prefill_ms: round(s.prefillMs),
    prompt_tokens: s.promptTokens,
    completion_tokens: s.completionTokens,
    total_ms: round(s.totalMs),
  };
}

function statsLine(mode: Mode, finish: string, s: DecodeStats): string {
  const accept = s.drafted > 0 ? ` accepted ${s.accepted}/${s.drafted} (${s.judgeAccepted} by the judge rule),` : '';
  return (
    `[${mode}] ${s.completionTokens} tokens in ${s.steps} steps (${round(s.meanAcceptedPerStep, 2)}/step),${accept} ` +
    `${round(s.tokensPerS, 1)} tok/s; prefill ${round(s.prefillMs, 1)} ms, draft ${round(s.draftMs, 1)} ms, ` +
    `verify ${round(s.verifyMs, 1)} ms, judge ${round(s.judgeMs, 1)} ms, rollback ${round(s.rollbackMs, 2)} ms; finish: ${finish}`
  );
}
