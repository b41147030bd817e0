import type { FinishReason, Provenance } from './types.ts';
import { IncrementalDetokenizer } from './detokenize.ts';

export interface Committed {
  tokens: number[];
  provenance: Provenance[];
  text: string;
  /** Each token's text, when they join to exactly `text` (not when held-back stop-prefix text shifts it). */
  pieces?: string[];
}

/**
 * The generated sequence as the client sees it. Tokens are committed one by one, so EOS,
 * max_tokens and stop sequences cut a multi-token chunk at the right token. Text that could
 * still turn out to be the start of a stop sequence is held back until it cannot.
 */
export class Output {
  readonly tokens: number[] = [];
  text = '';
  finishReason: FinishReason | null = null;
  private held = '';
  private readonly detok: IncrementalDetokenizer;

  constructor(
    tokenizer: { decode(ids: number[]): string },
    private readonly eos: ReadonlySet<number>,
    private readonly stop: readonly string[],
    private readonly maxTokens: number,
  ) {
    this.detok = new IncrementalDetokenizer(tokenizer);
  }

  get finished(): boolean {
    return this.finishReason !== null;
  }

  /** Tokens still allowed. */
  get remaining(): number {
    return this.maxTokens - this.tokens.length;
  }

  /** Commit one step's tokens in order, stopping at the first EOS, stop match or the token budget. */
  commit(tokens: readonly number[], provenance: readonly Provenance[]): Committed {
    const taken: Committed = { tokens: [], provenance: [], text: '', pieces: [] };
    for (let i = 0; i < tokens.length && !this.finished; i++) {
      const t = tokens[i];
      if (this.eos.has(t)) {
        this.finishReason = 'stop';
        break;
      }
      this.tokens.push(t);
      taken.tokens.push(t);
      taken.provenance.push(provenance[i]);
      const piece = this.detok.push(t);
      taken.pieces!.push(piece);
      this.held += piece;
      const cut = this.firstStopMatch();
      if (cut >= 0) {
        this.held = this.held.slice(0, cut);
        this.finishReason = 'stop';
        return this.release(taken, this.held.length, false);
      }
      if (this.tokens.length >= this.maxTokens) this.finishReason = 'length';
    }
    if (this.finished) return this.release(taken, Infinity, true);
    return this.release(taken, this.held.length - this.stopPrefixLength(), false);
  }

  /** End early (cancellation, context full); whatever text was held back is released. */
  end(reason: FinishReason): Committed {
    this.finishReason = reason;
    return this.release({ tokens: [], provenance: [], text: '' }, Infinity, true);
  }

  private release(taken: Committed, upTo: number, flush: boolean): Committed {
    if (flush) {
      const tail = this.detok.flush();
      this.held += tail;
      if (taken.pieces?.length) taken.pieces[taken.pieces.length - 1] += tail;
    }
    const n = Math.min(upTo, this.held.length);
    taken.text = this.held.slice(0, n);
    this.held = this.held.slice(n);
    this.text += taken.text;
    if (taken.pieces && taken.pieces.join('') !== taken.text) delete taken.pieces;
    return taken;
  }

  private firstStopMatch(): number {
    let cut = -1;
    for (const s of this.stop) {
      const i = this.held.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    return cut;
  }

  /** Length of the longest suffix of the held text that is a proper prefix of some stop sequence. */
  private stopPrefixLength(): number {
    let best = 0;
    for (const s of this.stop) {
      for (let n = Math.min(s.length - 1, this.held.length); n > best; n--) {
        if (this.held.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
