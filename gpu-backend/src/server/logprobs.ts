import type { ChatLogprobs, ChatTokenLogprob, TextLogprobs } from '@verdict/protocol';
import { IncrementalDetokenizer } from '../engine/detokenize.ts';
import type { TokenLogprob } from '../engine/types.ts';
import { byteToUnicode } from '../bundle/byte-level.ts';

/**
 * The engine reports token ids and numbers; this turns them into OpenAI's logprobs shapes on the HTTP thread.
 * A token's text is its own decode; a token that is only part of a UTF-8 character (byte-level BPE, or a
 * `<0xNN>` byte-fallback token) is named `bytes:\xNN…` and its `bytes` are the raw bytes, as OpenAI does.
 */
export interface TokenTokenizer {
  decode(ids: number[]): string;
  idToToken?(id: number): string | undefined;
}

const enc = new TextEncoder();
const perTokenizer = new WeakMap<object, TokenTexts>();

/** One TokenTexts (and its cache) per bundle tokenizer. */
export function tokenTextsFor(bundle: { tokenizer: TokenTokenizer }): TokenTexts {
  let t = perTokenizer.get(bundle.tokenizer);
  if (!t) perTokenizer.set(bundle.tokenizer, (t = new TokenTexts(bundle.tokenizer)));
  return t;
}
let byteDecoder: Map<string, number> | null = null;

export class TokenTexts {
  private readonly cache = new Map<number, { token: string; bytes: number[] }>();
  constructor(private readonly tokenizer: TokenTokenizer) {}

  info(id: number): { token: string; bytes: number[] } {
    let hit = this.cache.get(id);
    if (!hit) this.cache.set(id, (hit = this.compute(id)));
    return hit;
  }

  private compute(id: number): { token: string; bytes: number[] } {
    const text = this.tokenizer.decode([id]);
    if (!text.includes('\uFFFD')) return { token: text, bytes: [...enc.encode(text)] };
    const raw = this.rawBytes(id);
    if (!raw) return { token: text, bytes: [...enc.encode(text)] };
    return { token: 'bytes:' + raw.map((b) => '\\x' + b.toString(16).padStart(2, '0')).join(''), bytes: raw };
  }

  /** The bytes behind a vocabulary entry: `<0xNN>` (byte fallback) or GPT-2 byte-level stand-ins. */
  private rawBytes(id: number): number[] | null {
    const piece = this.tokenizer.idToToken?.(id);
    if (!piece) return null;
    const fallback = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
    if (fallback) return [parseInt(fallback[1], 16)];
    byteDecoder ??= new Map(byteToUnicode().map((ch, b) => [ch, b]));
    const out: number[] = [];
    for (const ch of piece) {
      const b = byteDecoder.get(ch);
      if (b === undefined) return null;
      out.push(b);
    }
    return out;
  }
}

/** Chat: `{content: [{token, logprob, bytes, top_logprobs}]}` for these tokens. */
export function chatLogprobs(texts: TokenTexts, tokens: readonly number[], lps: readonly TokenLogprob[]): ChatLogprobs {
  const content: ChatTokenLogprob[] = tokens.map((id, i) => {
    const { token, bytes } = texts.info(id);
    const lp = lps[i];
    return {
      token,
      logprob: lp.logprob,
      bytes,
      top_logprobs: lp.topIds.map((t, j) => ({ ...texts.info(t), logprob: lp.topLogprobs[j] })).map(({ token, bytes, logprob }) => ({ token, logprob, bytes })),
    };
  });
  return { content, refusal: null };
}

/**
 * Completions: the legacy parallel arrays, built chunk by chunk (a stream's chunks continue each other's
 * `text_offset`). Offsets follow the returned text: each token advances it by the text it completes (a
 * token that ends mid-character adds nothing until the character is whole); a prompt token whose text is not
 * in the prompt (the BOS the server prepends) takes the current offset without advancing.
 */
export class TextLogprobsBuilder {
  private readonly detok: IncrementalDetokenizer;

  constructor(
    private readonly texts: TokenTexts,
    tokenizer: TokenTokenizer,
    /** Where the first token starts: 0, or after the echoed prompt. */
    private offset = 0,
  ) {
    this.detok = new IncrementalDetokenizer(tokenizer);
  }

  /**
   * The entries for `tokens`. `text`, when given (the echoed prompt), is the text they spell: a token whose
   * text is not found there at the current offset does not advance it.
   */
  add(tokens: readonly number[], lps: readonly (TokenLogprob | null)[], text?: string): TextLogprobs {
    const out: TextLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    tokens.forEach((id, i) => {
      const lp = lps[i];
      out.tokens.push(this.texts.info(id).token);
      out.token_logprobs.push(lp ? lp.logprob : null);
      out.top_logprobs.push(lp ? Object.fromEntries(lp.topIds.map((t, j) => [this.texts.info(t).token, lp.topLogprobs[j]])) : null);
      out.text_offset.push(this.offset);
      const piece = this.detok.push(id);
      if (piece && (text === undefined || text.startsWith(piece, this.offset))) this.offset += piece.length;
    });
    return out;
  }
}

/** Joins successive TextLogprobs (the chunks of one answer) into one. */
export function concatTextLogprobs(parts: readonly TextLogprobs[]): TextLogprobs {
  return {
    tokens: parts.flatMap((p) => p.tokens),
    token_logprobs: parts.flatMap((p) => p.token_logprobs),
    top_logprobs: parts.flatMap((p) => p.top_logprobs),
    text_offset: parts.flatMap((p) => p.text_offset),
  };
}
