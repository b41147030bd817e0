import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What a user checker module sees (AutoJudge-style: is the answer still right with this token?). */
export interface CheckInput {
  prompt: string;
  /** The response text before the questioned draft token. */
  prefix: string;
  /** The draft token, then the target's own greedy continuation to EOS or the token budget. */
  continuation: string;
  /** prefix + continuation, decoded together. */
  response: string;
  /** The target's own greedy response to the prompt (what `target` mode would answer). */
  reference: string;
}
export type Checker = (input: CheckInput) => boolean | Promise<boolean>;

/**
 * How `judge mine` labels a draft token the target's argmax disagrees with.
 *  - topk:N   harmless if the token is within the target's top N
 *  - ratio:A  harmless if p_target(token) >= A · max p_target
 *  - module:PATH  harmless if the module's `check` says the resulting answer is still correct
 *  - selfjudge    SelfJudge-style, no ground truth: harmless if the target's log-likelihood of its own
 *                 greedy continuation of the next N tokens after the draft token is within δ nats of
 *                 that after its own token (N, δ: `selfjudge:N,δ` or the --selfjudge-tokens/-delta flags)
 */
export type MiningRule =
  | { kind: 'topk'; n: number; spec: string }
  | { kind: 'ratio'; a: number; spec: string }
  | { kind: 'module'; path: string; check: Checker; spec: string }
  | { kind: 'selfjudge'; n: number; delta: number; spec: string };

/** SelfJudge defaults: 8 continuation tokens, 1.5 nats (see docs/judge.md for how they were chosen). */
export const SELFJUDGE_DEFAULTS = { n: 8, delta: 1.5 } as const;

export async function parseRule(spec: string, selfjudge: { n?: number; delta?: number } = {}): Promise<MiningRule> {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? '' : spec.slice(colon + 1);
  if (kind === 'topk') {
    const n = Number(arg);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--rule topk:N needs a positive integer N, got ${JSON.stringify(arg)}`);
    return { kind, n, spec };
  }
  if (kind === 'ratio') {
    const a = Number(arg);
    if (arg === '' || !(a > 0 && a <= 1)) throw new Error(`--rule ratio:A needs A in (0, 1], got ${JSON.stringify(arg)}`);
    return { kind, a, spec };
  }
  if (kind === 'module') {
    if (!arg) throw new Error('--rule module:PATH needs the path of an ES module exporting check()');
    return { kind, path: arg, check: await loadChecker(arg), spec };
  }
  if (kind === 'selfjudge') {
    const [nArg, dArg] = arg === '' ? [] : arg.split(',');
    const n = nArg !== undefined ? Number(nArg) : (selfjudge.n ?? SELFJUDGE_DEFAULTS.n);
    const delta = dArg !== undefined ? Number(dArg) : (selfjudge.delta ?? SELFJUDGE_DEFAULTS.delta);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--rule selfjudge needs a positive integer N of continuation tokens, got ${JSON.stringify(nArg ?? selfjudge.n)}`);
    if (!(delta >= 0) || !Number.isFinite(delta)) throw new Error(`--rule selfjudge needs δ >= 0 nats, got ${JSON.stringify(dArg ?? selfjudge.delta)}`);
    return { kind, n, delta, spec: `selfjudge:${n},${delta}` };
  }
  throw new Error(`unknown --rule ${JSON.stringify(spec)}; expected topk:N, ratio:A, module:PATH or selfjudge[:N,δ]`);
}

export async function loadChecker(path: string): Promise<Checker> {
  let mod: { check?: unknown; default?: { check?: unknown } };
  try {
    mod = await import(pathToFileURL(resolve(path)).href);
  } catch (err) {
    throw new Error(`cannot import checker module ${path}: ${(err as Error).message}`);
  }
  const check = mod.check ?? mod.default?.check;
  if (typeof check !== 'function') throw new Error(`checker module ${path} must export a function check({prompt, prefix, continuation}) => boolean`);
  return check as Checker;
}

/** topk/ratio decision for a mismatched token, from the target's untempered softmax. */
export function harmlessByDistribution(rule: Extract<MiningRule, { kind: 'topk' | 'ratio' }>, probs: Float32Array, token: number): boolean {
  const p = probs[token];
  if (rule.kind === 'ratio') {
    let max = 0;
    for (let i = 0; i < probs.length; i++) if (probs[i] > max) max = probs[i];
    return p >= rule.a * max;
  }
  let higher = 0;
  for (let i = 0; i < probs.length && higher < rule.n; i++) if (probs[i] > p) higher++;
  return higher < rule.n;
}
