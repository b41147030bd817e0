import type { Provenance } from '@verdict/protocol/browser';
import type { ChatCompletionChunk } from '@verdict/protocol/browser';

/** A run of text that came from one source. */
export interface Segment {
  text: string;
  provenance: Provenance;
}

/** Legend text and the CSS class of each provenance. The order is the legend's order. */
export const PROVENANCE_LEGEND: readonly { provenance: Provenance; label: string; className: string }[] = [
  { provenance: 'draft', label: 'draft, accepted by the standard rule', className: 'tok-draft' },
  { provenance: 'judge', label: 'draft, accepted only by the judge (or the KL or entropy rule)', className: 'tok-judge' },
  { provenance: 'prediction', label: "from the request's prediction (on a regeneration: the cached answer, sent as the draft)", className: 'tok-prediction' },
  { provenance: 'target', label: "the target's own token", className: 'tok-target' },
];

export function provenanceClass(p: Provenance): string {
  return PROVENANCE_LEGEND.find((l) => l.provenance === p)?.className ?? 'tok-target';
}

/**
 * Splits one step's text into per-token segments. With `pieces` (per-token text from the server) the split is
 * exact. Without it the step's characters are shared out in proportion — an approximation: the counts per source
 * are right, the boundaries between them may be off by a few characters. Adjacent runs from one source merge.
 */
export function splitStep(text: string, provenance: readonly Provenance[], pieces?: readonly string[]): Segment[] {
  if (!text) return [];
  if (provenance.length === 0) return [{ text, provenance: 'target' }];
  let parts: string[];
  if (pieces && pieces.length === provenance.length && pieces.join('') === text) parts = [...pieces];
  else parts = proportionalSplit(text, provenance.length);
  return mergeRuns(parts.map((t, i) => ({ text: t, provenance: provenance[i] })));
}

/** n parts of `text`, as equal as code points allow (never splitting a surrogate pair). */
export function proportionalSplit(text: string, n: number): string[] {
  const chars = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const from = Math.round((i * chars.length) / n);
    const to = Math.round(((i + 1) * chars.length) / n);
    out.push(chars.slice(from, to).join(''));
  }
  return out;
}

export function mergeRuns(segments: readonly Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of segments) {
    if (!s.text) continue;
    const last = out[out.length - 1];
    if (last && last.provenance === s.provenance) last.text += s.text;
    else out.push({ ...s });
  }
  return out;
}

/** The coloured segments of a chunk (empty for the role-only first chunk and the final timings chunk). */
export function chunkSegments(chunk: ChatCompletionChunk): Segment[] {
  const text = chunk.choices[0]?.delta?.content ?? '';
  const x = chunk.x_verdict;
  return splitStep(text, x?.provenance ?? [], x?.pieces);
}
