/**
 * Cache-as-draft at the gateway (issue 15, item 3; docs/gateway.md, "Cache as draft"): the regenerate workload
 * through two gateways in front of one backend, one with CACHE_AS_DRAFT on and one with it off. For each prompt,
 * one T = 0 answer first (through the "on" gateway: it is held as the draft), then `regenerations` rounds of the
 * same conversation at T = 0.7 in judge mode, one request through each gateway per round, the order alternating
 * (on/off, off/on, …) so drift in load hits both alike. The goal: tokens/s with the draft ≥ 2× without it.
 *
 * The pure parts (leg order, the summary, the report) are here and tested (gpu-backend/test/bench-gateway-draft.test.ts);
 * `measureCacheAsDraft` needs two running gateways; gateway-draft-run.ts starts them and prints the report:
 *   node --import tsx gpu-backend/src/bench/gateway-draft-run.ts BUNDLE_DIR [--regenerations N] [--max-tokens N] [--json FILE]
 */
import { Agent, request } from 'undici';

export type Arm = 'on' | 'off';

export interface DraftBenchOptions {
  prompts: readonly string[];
  /** T = 0.7 requests per prompt and arm. */
  regenerations: number;
  maxTokens: number;
  k: number;
  temperature: number;
  /** Called after each measured request (progress). */
  onSample?: () => void;
}

/** One measured regeneration. */
export interface DraftSample {
  arm: Arm;
  prompt: number;
  round: number;
  /** Request sent → whole answer read, ms (the client's view: gateway, queue, prefill and decode). */
  wallMs: number;
  completionTokens: number;
  /** The gateway's X-Cache (DRAFT expected with the feature on, BYPASS with it off). */
  cache: string | null;
  /** The backend's own figures, when it sent them. */
  serverTokensPerS: number | null;
  meanAcceptedPerStep: number | null;
  acceptedPredictionTokens: number | null;
}

export interface ArmSummary {
  requests: number;
  tokens: number;
  seconds: number;
  /** All tokens over all wall time: longer answers weigh more, as they do for a server. */
  tokens_per_s: number;
  mean_accepted_per_step: number | null;
  accepted_prediction_tokens: number;
  /** Requests whose X-Cache was not the one this arm should say. */
  wrong_cache_header: number;
}

export interface DraftBenchSummary {
  on: ArmSummary;
  off: ArmSummary;
  /** on.tokens_per_s / off.tokens_per_s. */
  ratio: number;
  goal: number;
  meets_goal: boolean;
}

/** The goal of issue 15: cache-as-draft with the judge reaches at least this multiple of tokens/s without it. */
export const DRAFT_SPEEDUP_GOAL = 2;

/** The X-Cache each arm must answer with: DRAFT when the held answer went as prediction, BYPASS without the feature. */
export const EXPECTED_CACHE: Record<Arm, string> = { on: 'DRAFT', off: 'BYPASS' };

/** Which arm goes first in a round: on/off, then off/on, alternating (both arms see the same load drift). */
export function legOrder(round: number): [Arm, Arm] {
  return round % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
}

function summariseArm(samples: readonly DraftSample[], arm: Arm): ArmSummary {
  const mine = samples.filter((s) => s.arm === arm);
  const tokens = mine.reduce((n, s) => n + s.completionTokens, 0);
  const seconds = mine.reduce((n, s) => n + s.wallMs, 0) / 1000;
  const perStep = mine.map((s) => s.meanAcceptedPerStep).filter((x): x is number => x !== null);
  return {
    requests: mine.length,
    tokens,
    seconds,
    tokens_per_s: seconds > 0 ? tokens / seconds : 0,
    mean_accepted_per_step: perStep.length ? perStep.reduce((a, b) => a + b, 0) / perStep.length : null,
    accepted_prediction_tokens: mine.reduce((n, s) => n + (s.acceptedPredictionTokens ?? 0), 0),
    wrong_cache_header: mine.filter((s) => s.cache !== EXPECTED_CACHE[arm]).length,
  };
}

export function summariseDraftBench(samples: readonly DraftSample[], goal = DRAFT_SPEEDUP_GOAL): DraftBenchSummary {
  const on = summariseArm(samples, 'on');
  const off = summariseArm(samples, 'off');
  const ratio = off.tokens_per_s > 0 ? on.tokens_per_s / off.tokens_per_s : 0;
  return { on, off, ratio, goal, meets_goal: ratio >= goal && on.wrong_cache_header === 0 && off.wrong_cache_header === 0 };
}

/** The summary as a Markdown table and a verdict line. */
export function formatDraftReport(s: DraftBenchSummary, opts: Pick<DraftBenchOptions, 'prompts' | 'regenerations' | 'maxTokens' | 'k' | 'temperature'>): string {
  const f = (x: number | null, d = 1) => (x === null ? '—' : x.toFixed(d));
  const row = (name: string, a: ArmSummary) =>
    `| ${name} | ${a.requests} | ${a.tokens} | ${f(a.seconds, 2)} | ${f(a.tokens_per_s)} | ${f(a.mean_accepted_per_step, 2)} | ${a.accepted_prediction_tokens} | ${a.wrong_cache_header} |`;
  return [
    `Regenerate workload: ${opts.prompts.length} prompts × ${opts.regenerations} regenerations per arm, T = ${opts.temperature}, judge mode, K = ${opts.k}, max_tokens ${opts.maxTokens} (after one T = 0 answer per prompt).`,
    '',
    '| CACHE_AS_DRAFT | requests | tokens | seconds | tokens/s | tokens per target pass | prediction tokens kept | wrong X-Cache |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    row('on (X-Cache: DRAFT)', s.on),
    row('off (X-Cache: BYPASS)', s.off),
    '',
    `tokens/s ratio on/off: ${f(s.ratio, 2)}× (goal ≥ ${s.goal}×: ${s.meets_goal ? 'met' : 'not met'})`,
  ].join('\n');
}

export interface DraftTargets {
  /** The gateway with CACHE_AS_DRAFT on and the one with it off, in front of the same backend. */
  on: string;
  off: string;
  apiKey: string;
  model: string;
}

interface Answer {
  choices?: { message?: { content?: string } }[];
  usage?: { completion_tokens?: number; completion_tokens_details?: { accepted_prediction_tokens?: number } };
  timings?: { tokens_per_s?: number; mean_accepted_per_step?: number };
}

/** Runs the regenerate workload through both gateways (see the file's comment) and returns every sample. */
export async function measureCacheAsDraft(t: DraftTargets, opts: DraftBenchOptions): Promise<DraftSample[]> {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 4 });
  const send = async (base: string, content: string, temperature: number) => {
    const body = JSON.stringify({
      model: t.model,
      messages: [{ role: 'user', content }],
      max_tokens: opts.maxTokens,
      temperature,
      speculative: { mode: 'judge', k: opts.k },
    });
    const t0 = performance.now();
    const res = await request(`${base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' }, body, dispatcher: agent });
    const text = await res.body.text();
    const wallMs = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`cache-as-draft bench: ${base} answered HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
    const cache = res.headers['x-cache'];
    return { wallMs, answer: JSON.parse(text) as Answer, cache: typeof cache === 'string' ? cache.toUpperCase() : null };
  };
  const samples: DraftSample[] = [];
  try {
    for (let p = 0; p < opts.prompts.length; p++) {
      // A fresh conversation per run (the gateways' caches outlive one run), answered once at T = 0 through the
      // "on" gateway: that answer is what it then holds as the draft.
      const content = `${opts.prompts[p]} [run ${Date.now().toString(36)}-${p}]`;
      const primer = await send(t.on, content, 0);
      if (primer.cache !== 'MISS') throw new Error(`cache-as-draft bench: the T = 0 answer was X-Cache ${primer.cache}, expected MISS`);
      // The draft is held by the record stage, just after the answer: give it a moment.
      await new Promise((r) => setTimeout(r, 50));
      for (let round = 0; round < opts.regenerations; round++) {
        for (const arm of legOrder(round)) {
          const r = await send(t[arm], content, opts.temperature);
          samples.push({
            arm,
            prompt: p,
            round,
            wallMs: r.wallMs,
            completionTokens: r.answer.usage?.completion_tokens ?? 0,
            cache: r.cache,
            serverTokensPerS: r.answer.timings?.tokens_per_s ?? null,
            meanAcceptedPerStep: r.answer.timings?.mean_accepted_per_step ?? null,
            acceptedPredictionTokens: r.answer.usage?.completion_tokens_details?.accepted_prediction_tokens ?? null,
          });
          opts.onSample?.();
        }
      }
    }
  } finally {
    await agent.close();
  }
  return samples;
}
