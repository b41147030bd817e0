/**
 * Prompts are prefilled in forwards of at most this many tokens. One forward over a whole long
 * prompt makes onnxruntime allocate [heads, S, S] attention buffers (67 MB a layer for 1449 tokens
 * of the bench target). With its CPU arena on, the arena keeps them for the life of the session (after
 * prompts of ~1400 tokens an idle server held 1194 MiB, the commit before this, instead of 332); with it off (the server's
 * default), each forward maps and faults in such buffers afresh, and served tokens/s on those
 * prompts fell to 0.58-0.67x. In forwards of 128 tokens neither happens (docs/performance.md, "Long
 * prompts"). No imports: the server's config (HTTP thread, which never loads the engine) reads
 * the default from here.
 */
export const DEFAULT_PREFILL_CHUNK = 128;

/** `tokens` cut into consecutive pieces of at most `chunk` tokens (0 = one piece), with the offset of each. */
export function* prefillChunks(tokens: readonly number[], chunk: number): Generator<{ at: number; part: readonly number[] }> {
  const C = chunk > 0 ? chunk : tokens.length;
  for (let at = 0; at < tokens.length; at += C) yield { at, part: tokens.slice(at, at + C) };
}
