/**
 * The draft index of cache-as-draft (docs/gateway.md, "Cache as draft"): draft key (./draft-key.ts) → the latest
 * complete answer's text for that conversation, which a later request the answer cache cannot serve sends to the
 * backend as its `prediction`.
 *
 * In this isolate's memory, like the single-flight registry: a lookup costs no I/O (it runs on every request the
 * cache misses or bypasses), and the limits below bound what it can hold. The price is reach: an isolate sees
 * only its own share of a data centre's traffic, so a regeneration that lands on another isolate goes without a
 * draft (a Cache API tier, as the answer cache has, would share it across a data centre for ~1 ms a lookup).
 */

/** What one entry holds. */
export interface DraftEntry {
  /** The answer's text, cut to `maxTextChars`. */
  text: string;
  /** The answer came from a deterministic request (T = 0 or a seed): the best draft there is (see `put`). */
  deterministic: boolean;
  /** The last user turn it answered (edit index: checked against the new turn's text), or null. */
  turn: string | null;
}

export interface DraftLimits {
  /** Most entries held; the least recently used go first. */
  maxEntries: number;
  /** Most characters held over all entries (UTF-16 units: about twice as many bytes). */
  maxTotalChars: number;
  /** One answer's text is cut to this many characters (a prefix is still a draft; the backend verifies it). */
  maxTextChars: number;
}

/** 2048 answers and 4 M characters (~8 MiB) at most, 32 k characters (≈ 8 k tokens, the protocol's max_tokens) each. */
export const DRAFT_LIMITS: DraftLimits = { maxEntries: 2048, maxTotalChars: 4_000_000, maxTextChars: 32_768 };

/** The first `max` UTF-16 units of `text`, never ending in half a surrogate pair. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

interface Held extends DraftEntry {
  expires: number;
}

export class DraftStore {
  private readonly entries = new Map<string, Held>();
  private chars = 0;

  constructor(
    readonly limits: DraftLimits = DRAFT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Entries held now (expired ones included until they are next touched or pushed out). */
  get size(): number {
    return this.entries.size;
  }

  /** Characters held now. */
  get totalChars(): number {
    return this.chars;
  }

  /** The live entry for this key (and it becomes the most recently used), or null. */
  get(key: string): DraftEntry | null {
    const e = this.entries.get(key);
    if (!e) return null;
    this.remove(key);
    if (e.expires <= this.now()) return null;
    this.entries.set(key, e);
    this.chars += e.text.length;
    return { text: e.text, deterministic: e.deterministic, turn: e.turn };
  }

  /**
   * Holds `entry` under `key` for `ttlSeconds` (the route's cache TTL), replacing what was there, except that an
   * answer sampled at T > 0 never replaces a live deterministic one to the same turn: the greedy answer is the
   * target's most likely text, so more of it is accepted than of any sample. Returns whether it was stored.
   */
  put(key: string, entry: DraftEntry, ttlSeconds: number): boolean {
    if (ttlSeconds <= 0 || !entry.text) return false;
    const text = cutText(entry.text, this.limits.maxTextChars);
    const old = this.entries.get(key);
    if (old && old.expires > this.now() && old.deterministic && !entry.deterministic && old.turn === entry.turn) return false;
    if (old) this.remove(key);
    this.entries.set(key, { ...entry, text, expires: this.now() + ttlSeconds * 1000 });
    this.chars += text.length;
    this.evict();
    return true;
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.chars -= e.text.length;
  }

  /** The least recently used entries go until both limits hold (a Map iterates in insertion order). */
  private evict(): void {
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.limits.maxEntries && this.chars <= this.limits.maxTotalChars) return;
      this.remove(key);
    }
  }
}
