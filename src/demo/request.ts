import type { Mode } from '@verdict/protocol/browser';
import { HEADERS } from '@verdict/protocol/browser';
import { DEMO_MAX_TOKENS } from './presets.ts';

/** Where the page sends its requests: public demo routes of the gateway (anonymous, per-IP rate limit, shared cache). */
export const DEMO_CHAT_PATH = '/demo/v1/chat/completions';
export const DEMO_MODELS_PATH = '/demo/v1/models';
/** Asks the gateway to replay a cached stream at its recorded pace (capped) rather than all at once. */
export const REPLAY_HEADER = HEADERS.replay;
export type ReplayPace = 'recorded' | 'instant';

/** What one pane asks for. */
export interface PaneSettings {
  mode: Mode;
  k: number;
  /** judge: acceptance threshold on sigmoid(judge logit). */
  threshold: number;
  /** kl: KL(p_target || p_draft) bound in nats. */
  klThreshold: number;
}

/**
 * The OpenAI chat body for one pane. Only the fields the mode uses are sent, so two requests that mean the same
 * thing are the same bytes and share one edge-cache entry (e.g. `target` mode ignores K and thresholds).
 */
/**
 * The temperature of the page's "Regenerate" run: a sampled answer (never served from the answer cache), which the
 * gateway sends with the earlier T = 0 answer to the same prompt as its `prediction` (cache-as-draft, X-Cache DRAFT).
 */
export const REGENERATE_TEMPERATURE = 0.7;

export function chatBody(model: string, prompt: string, s: PaneSettings, maxTokens = DEMO_MAX_TOKENS, temperature = 0): Record<string, unknown> {
  const speculative: Record<string, unknown> = { mode: s.mode };
  if (s.mode !== 'target') speculative.k = s.k;
  if (s.mode === 'judge') speculative.threshold = s.threshold;
  if (s.mode === 'kl') speculative.kl_threshold = s.klThreshold;
  return {
    model,
    messages: [{ role: 'user', content: prompt }],
    stream: true,
    max_tokens: maxTokens,
    temperature,
    speculative,
  };
}

/** Checks a settings form value, naming the field, so a bad control value never becomes a confusing 400. */
export function validateSettings(s: PaneSettings): string | null {
  if (!Number.isInteger(s.k) || s.k < 1 || s.k > 64) return `K must be a whole number from 1 to 64 (got ${s.k})`;
  if (!(s.threshold >= 0 && s.threshold <= 1)) return `threshold must be between 0 and 1 (got ${s.threshold})`;
  if (!(s.klThreshold >= 0)) return `KL threshold must be 0 or more (got ${s.klThreshold})`;
  return null;
}

/** The modes a listed model offers (its `x_verdict.modes`), or null when the list doesn't say. */
export function modesOf(list: unknown, model: string): Mode[] | null {
  const data = (list as { data?: { id?: unknown; x_verdict?: { modes?: unknown } }[] } | null)?.data;
  const modes = Array.isArray(data) ? data.find((m) => m?.id === model)?.x_verdict?.modes : undefined;
  return Array.isArray(modes) ? (modes.filter((m) => typeof m === 'string') as Mode[]) : null;
}

/** The first of `preferred` that is available (all are when `available` is null), else the first available one. */
export function fallbackMode(preferred: readonly Mode[], available: readonly Mode[] | null): Mode {
  if (!available) return preferred[0];
  return preferred.find((m) => available.includes(m)) ?? available[0] ?? preferred[0];
}

/** The first model of a `/v1/models` list, preferring one that offers the judge mode. */
export function pickModel(list: unknown): string | null {
  const data = (list as { data?: { id?: unknown; x_verdict?: { modes?: unknown } }[] } | null)?.data;
  if (!Array.isArray(data)) return null;
  const ids = data.filter((m) => typeof m?.id === 'string');
  const judge = ids.find((m) => Array.isArray(m.x_verdict?.modes) && (m.x_verdict!.modes as unknown[]).includes('judge'));
  return ((judge ?? ids[0])?.id as string | undefined) ?? null;
}
