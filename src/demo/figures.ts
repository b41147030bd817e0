import type { ChatCompletionChunk, Timings } from '@verdict/protocol/browser';
import type { Provenance } from '@verdict/protocol/browser';

/** The live numbers of one pane, as the visitor experiences them (measured in the page, not taken on trust). */
export interface FiguresSnapshot {
  /** Request sent → first visible text, ms. */
  ttftMs: number | null;
  tokens: number;
  /** Chunks that carried tokens: one per engine step (one target forward). */
  steps: number;
  /** Tokens after the first chunk per second since the first chunk; null until there are two chunks. */
  tokensPerS: number | null;
  /** Tokens emitted per step (accepted drafts + the target's token); final value from the server's timings. */
  acceptedPerStep: number | null;
  byProvenance: Record<Provenance, number>;
  elapsedMs: number;
  timings: Timings | null;
}

export class LiveFigures {
  private firstAt: number | null = null;
  private firstTokens = 0;
  private lastAt: number | null = null;
  private tokens = 0;
  private steps = 0;
  private timings: Timings | null = null;
  private readonly byProvenance: Record<Provenance, number> = { draft: 0, judge: 0, prediction: 0, target: 0 };

  /** `startedAt`: when the request was sent, on the same clock as the `now` values passed later. */
  constructor(private readonly startedAt: number) {}

  onChunk(chunk: ChatCompletionChunk, now: number): void {
    if (chunk.timings) this.timings = chunk.timings;
    const text = chunk.choices[0]?.delta?.content ?? '';
    const prov = chunk.x_verdict?.provenance ?? [];
    // A plain OpenAI chunk without our extension still counts as one token of text.
    const n = prov.length || (text ? 1 : 0);
    if (n === 0) return;
    for (const p of prov) this.byProvenance[p] = (this.byProvenance[p] ?? 0) + 1;
    if (prov.length === 0) this.byProvenance.target += 1;
    if (this.firstAt === null) {
      this.firstAt = now;
      this.firstTokens = n;
    }
    this.lastAt = now;
    this.tokens += n;
    this.steps += 1;
  }

  snapshot(now: number): FiguresSnapshot {
    const end = this.lastAt ?? now;
    const span = this.firstAt === null ? 0 : end - this.firstAt;
    const after = this.tokens - this.firstTokens;
    return {
      ttftMs: this.firstAt === null ? null : this.firstAt - this.startedAt,
      tokens: this.tokens,
      steps: this.steps,
      tokensPerS: span > 0 && after > 0 ? (after / span) * 1000 : null,
      acceptedPerStep: this.timings?.mean_accepted_per_step ?? (this.steps ? this.tokens / this.steps : null),
      byProvenance: { ...this.byProvenance },
      elapsedMs: now - this.startedAt,
      timings: this.timings,
    };
  }
}

/** Numbers for humans: `12.3 ms`, `1.20 s`, `—` when unknown. */
export function formatMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}

export function formatNumber(x: number | null | undefined, digits = 1): string {
  return x == null || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}
