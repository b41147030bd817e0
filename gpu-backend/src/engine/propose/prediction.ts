import { suffixMatchesAt } from './ngram.ts';
import type { LookupLengths, TokenProposer } from './types.ts';

/** Per prediction position: never proposed, proposed and not kept (yet), kept in the completion. */
const UNSEEN = 0;
const REJECTED = 1;
const KEPT = 2;

/**
 * The `prediction` proposer (OpenAI's Predicted Outputs): the prediction's tokens are the draft. It follows
 * the completion through the prediction with a cursor (the prediction index the next token is expected to
 * be). While the completion repeats the prediction, each step proposes the next k prediction tokens. When
 * a token differs, it realigns, in this order:
 *  1. n-gram: the longest suffix of the completion (maxN ≥ n ≥ minN tokens) that occurs in the prediction,
 *     at the occurrence nearest to where it lost track (forward first); the cursor goes after it;
 *  2. substitution: when the differing token is the last one (the target's correction), assume it replaced
 *     the prediction's token and continue right after that one — once: when the guess is wrong at once too
 *     (the completion has left the prediction), it waits for an n-gram match instead;
 *  3. nothing: it proposes nothing and the engine runs the draft model; it tries again next step.
 *
 * Cheaply stateful: each call only looks at the tokens added since the last one (plus the suffix scan of a
 * realignment). It also keeps OpenAI's usage counts: {@link accepted}, completion tokens that came from the
 * prediction (the `prediction` provenance; a stretch the completion repeats counts each time), and
 * {@link rejected}, prediction positions proposed to the target and never kept (each position once).
 */
export class PredictionProposer implements TokenProposer {
  /** Next prediction index expected, -1 when lost (to realign on the next call). */
  private cursor = 0;
  /** Where the cursor last was before it got lost: realignment prefers matches near it. */
  private anchor = 0;
  /** Prediction index of the token the completion replaced, when that was the last token seen; else -1. */
  private replaced = -1;
  /** The cursor is a substitution guess no token has confirmed yet: a second guess in a row is not made. */
  private guessed = false;
  /** seq length the cursor accounts for. */
  private synced: number;
  private lastAt = 0;
  private lastN = 0;
  private readonly ledger: Uint8Array;
  accepted = 0;
  rejected = 0;

  constructor(
    private readonly prediction: readonly number[],
    /** Where the completion starts in the sequences passed to {@link propose} (the prompt's length). */
    private readonly start: number,
    private readonly lengths: LookupLengths,
  ) {
    this.synced = start;
    this.ledger = new Uint8Array(prediction.length);
  }

  propose(seq: readonly number[], k: number): number[] {
    this.sync(seq);
    if (this.cursor < 0) this.cursor = this.realign(seq);
    const at = this.cursor;
    const n = at < 0 ? 0 : Math.max(0, Math.min(k, this.prediction.length - at));
    this.lastAt = at;
    this.lastN = n;
    return n > 0 ? this.prediction.slice(at, at + n) : [];
  }

  /** After the step that verified the last proposal: its first `kept` tokens are in the completion. */
  settle(kept: number): void {
    const n = Math.min(kept, this.lastN);
    this.accepted += n;
    for (let i = 0; i < this.lastN; i++) {
      const p = this.lastAt + i;
      const was = this.ledger[p];
      if (i < n && was !== KEPT) {
        if (was === REJECTED) this.rejected--;
        this.ledger[p] = KEPT;
      } else if (i >= n && was === UNSEEN) {
        this.ledger[p] = REJECTED;
        this.rejected++;
      }
    }
    this.lastN = 0;
  }

  /** Advance the cursor over the tokens added since the last call; the first that differs loses it. */
  private sync(seq: readonly number[]): void {
    const P = this.prediction.length;
    for (; this.synced < seq.length; this.synced++) {
      const c = this.cursor;
      if (c >= 0 && c < P && seq[this.synced] === this.prediction[c]) {
        this.cursor++;
        this.guessed = false;
        continue;
      }
      if (c >= 0) {
        this.anchor = c;
        this.cursor = -1;
      }
      this.replaced = this.synced === seq.length - 1 && c >= 0 && c < P ? c : -1;
    }
  }

  /** Where the completion continues in the prediction, or -1 (see the class comment for the order). */
  private realign(seq: readonly number[]): number {
    const P = this.prediction.length;
    const generated = seq.length - this.start;
    const { minN, maxN } = this.lengths;
    for (let n = Math.min(maxN, generated); n >= minN; n--) {
      let best = -1;
      // occurrences with a token after them: forward of the anchor first (the nearest), else the latest before it
      for (let at = 0; at + n < P; at++) {
        if (!suffixMatchesAt(this.prediction, at, seq, n)) continue;
        if (at + n >= this.anchor) {
          best = at;
          break;
        }
        best = at;
      }
      if (best >= 0) return this.realigned(best + n, seq);
    }
    if (this.replaced >= 0 && this.replaced + 1 < P && !this.guessed) return this.realigned(this.replaced + 1, seq, true);
    return -1;
  }

  private realigned(cursor: number, seq: readonly number[], guess = false): number {
    this.guessed = guess;
    this.replaced = -1;
    this.anchor = cursor;
    this.synced = seq.length;
    return cursor;
  }
}
