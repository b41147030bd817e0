import { Channel } from '../channel.ts';
import { RequestState, soloCaches, usesDraft, type DecodeModels } from '../request.ts';
import type { JudgeSource } from '../score.ts';
import { idleStats } from '../stats.ts';
import type { BatchStepInfo, DecodeEvent, DecodeRequest } from '../types.ts';
import { RULES, type VerifyRule } from '../verify/index.ts';
import { BatchKvCache, type BatchRow } from './batch-cache.ts';
import { Acceptance, chooseK, ForwardCost, type KChoice } from './cost-model.ts';
import { proposeBatch, scoreBatch } from './forwards.ts';
import { proposeText } from '../propose/text.ts';
import type { BatchOptions } from './options.ts';

/** One running request of the batch. */
interface Row {
  r: RequestState<BatchRow>;
  rule: VerifyRule | null;
  judge: JudgeSource;
  acceptance: Acceptance;
  events: Channel<DecodeEvent>;
  signal?: AbortSignal;
  step: number;
  /** The consumer stopped reading: end at the next step boundary. */
  gone: boolean;
}

const NO_JUDGE: JudgeSource = { kind: 'none' };

/** Without drafts, acceptance estimates go stale: every this many steps without, one step drafts (why: 'probe'). */
const PROBE_EVERY = 32;

/**
 * Continuous batching: every request running on this engine is a row of one batch, and each step
 * is the decode loop of {@link import('../decode.ts').decode} over all of them at once — ONE draft
 * forward per draft position and ONE target forward, each over every row. Requests join (after a
 * prefill of their own) and leave between steps; each keeps its own K, acceptance, stopping and
 * random generator. The step's draft length is chosen by the cost model ({@link chooseK}).
 */
export class BatchLoop {
  private readonly targetCache: BatchKvCache;
  private readonly draftCache: BatchKvCache;
  private rows: Row[] = [];
  private joining: Row[] = [];
  private running = false;
  private readonly cost = { draft: new ForwardCost(), target: new ForwardCost() };
  /** Steps in a row the cost model chose no speculation; at {@link PROBE_EVERY} one step drafts, to refresh the acceptance estimates. */
  private stepsWithoutDrafts = 0;

  constructor(
    private readonly m: DecodeModels,
    private readonly opts: BatchOptions,
  ) {
    const cache = (s: DecodeModels['target']['spec']) => new BatchKvCache(s.num_layers, s.num_kv_heads, s.head_dim, opts.compactWaste);
    this.targetCache = cache(m.target.spec);
    this.draftCache = cache(m.draft.spec);
  }

  /** Requests in the batch and waiting to join it. */
  get load(): number {
    return this.rows.length + this.joining.length;
  }

  /** The request's events; it joins the batch when the consumer first reads. */
  async *decode(req: DecodeRequest, signal?: AbortSignal): AsyncGenerator<DecodeEvent> {
    const row: Row = {
      r: new RequestState(this.m, req, { target: this.targetCache.newRow(), draft: usesDraft(req) ? this.draftCache.newRow() : null }),
      rule: req.mode === 'target' ? null : RULES[req.mode],
      judge: req.mode === 'judge' ? this.m.judge : NO_JUDGE,
      acceptance: new Acceptance(),
      events: new Channel<DecodeEvent>(),
      signal,
      step: 0,
      gone: false,
    };
    this.joining.push(row);
    if (!this.running) void this.loop();
    try {
      for (;;) {
        const next = await row.events.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      row.gone = true; // the loop ends the row and frees its slots at the next step boundary
    }
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.rows.length || this.joining.length) {
        await this.admit();
        this.retire();
        if (this.rows.length) await this.step();
        this.retire();
        // Let cancellations and new requests arrive: session.run holds this thread while it runs.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * Prefill waiting requests on their own caches, then copy them into the batch. A prefill is a forward
   * of its own that every running row waits for, so while rows are running one request joins per step
   * (the running rows' inter-token gaps then hold one prefill at most); an idle batch takes them all.
   */
  private async admit(): Promise<void> {
    const joining = this.rows.length ? this.joining.splice(0, 1) : this.joining.splice(0);
    for (const row of joining) {
      if (row.gone || row.signal?.aborted) {
        row.events.end();
        row.r.release();
        continue;
      }
      const solo = soloCaches(this.m, row.r.req);
      try {
        const prefill = await row.r.prefill(solo.target, solo.draft);
        const prompt = row.r.req.promptIds.length - 1;
        if (prompt > 0 && !prefill.promptLogprobs) this.cost.target.observe(prompt, prefill.targetMs); // prefills give the fit its spread
        this.targetCache.add(row.r.targetCache, solo.target);
        if (row.r.draftCache) this.draftCache.add(row.r.draftCache, solo.draft!);
        row.events.push({ type: 'prefill', promptTokens: row.r.req.promptIds.length, ms: prefill.ms, ...(prefill.promptLogprobs ? { promptLogprobs: prefill.promptLogprobs } : {}) });
        if (row.r.req.maxTokens === 0) row.r.out.end('length'); // scoring the prompt only
        this.rows.push(row);
      } catch (err) {
        row.r.release();
        row.events.fail(err);
      } finally {
        solo.target.release();
        solo.draft?.release();
      }
    }
  }

  /** End every row that finished, was cancelled, lost its consumer or ran out of context; free its slots. */
  private retire(): void {
    const keep: Row[] = [];
    for (const row of this.rows) {
      const { r } = row;
      if (!r.out.finished && (row.gone || row.signal?.aborted || r.draftLength() < 0)) {
        const rest = r.out.end(r.draftLength() < 0 ? 'length' : 'cancelled');
        if (rest.text) row.events.push({ type: 'step', step: row.step, ...rest, stats: idleStats() });
      }
      if (!r.out.finished) {
        keep.push(row);
        continue;
      }
      row.events.push(r.done());
      row.events.end();
      r.release();
    }
    this.rows = keep;
  }

  /** One speculative step over every row: draft, ONE target forward, each row's rule, commit, emit. */
  private async step(): Promise<void> {
    const { rows, m } = this;
    const choice = this.chooseK(rows.map((row) => row.r.draftLength()));
    const ks = rows.map((row) => Math.min(row.r.draftLength(), choice.k));
    try {
      // draft: from each row's prediction / n-grams when they have some (no forward), else max(K) forwards over the draft batch
      let t = performance.now();
      const fromText = rows.map((row, j) => proposeText(row.r, ks[j]));
      const fromModel = await proposeBatch(m.draft, this.draftCache, rows.map((row) => row.r), ks.map((k, j) => (fromText[j] ? 0 : k)), this.cost.draft);
      const drafts = rows.map((_, j) => fromText[j] ?? fromModel[j]);
      const draftMs = performance.now() - t;

      // ONE target forward over every row's [pending, d1..dK], then each row's rule
      const { scored, forwardMs } = await scoreBatch(m.target, this.targetCache, rows.map((row) => row.r), drafts, rows.map((row) => row.judge), this.cost.target);
      const stepped = rows.map((row, j) => {
        t = performance.now();
        const verdict = row.rule && ks[j] > 0 ? row.rule(row.r.verifyInput(drafts[j], scored[j].judgeLogits)) : row.r.plainStep();
        return { verdict, verifyMs: forwardMs + performance.now() - t - scored[j].judgeMs };
      });

      // commit, roll back by masking, then compact if the dead slots passed the bound
      const events = rows.map((row, j) => {
        row.acceptance.observe(ks[j], stepped[j].verdict.accepted);
        return row.r.step(row.step++, drafts[j], stepped[j].verdict, { draftMs, verifyMs: stepped[j].verifyMs, judgeMs: scored[j].judgeMs }, fromText[j] !== null);
      });
      t = performance.now();
      this.targetCache.maybeCompact();
      this.draftCache.maybeCompact();
      const info = this.info(choice, performance.now() - t);
      rows.forEach((row, j) => {
        const e = events[j] as Extract<DecodeEvent, { type: 'step' }>;
        e.stats.batch = info;
        row.events.push(e);
      });
    } catch (err) {
      // A failed forward leaves the batch caches unusable for these rows: fail them all, keep serving the next.
      for (const row of rows) {
        row.r.release();
        row.events.fail(err);
      }
      this.rows = [];
    }
  }

  private chooseK(want: number[]): KChoice {
    const capped = want.map((w) => Math.max(0, w));
    const maxK = Math.max(0, ...capped);
    if (this.opts.specDisableBatch > 0 && this.rows.length >= this.opts.specDisableBatch) return { k: 0, rate: 0, why: 'disabled' };
    if (this.opts.specK === 'fixed') return { k: maxK, rate: 0, why: 'fixed' };
    const choice = chooseK(capped, this.rows.map((row) => row.acceptance), this.draftCache.size, this.cost.draft, this.cost.target);
    if (choice.k > 0 || maxK === 0) this.stepsWithoutDrafts = 0;
    else if (++this.stepsWithoutDrafts >= PROBE_EVERY) {
      this.stepsWithoutDrafts = 0;
      return { k: Math.min(maxK, 2), rate: choice.rate, why: 'probe' };
    }
    return choice;
  }

  private info(choice: KChoice, compactMs: number): BatchStepInfo {
    const t = this.targetCache.bytes;
    const d = this.draftCache.bytes;
    return { rows: this.rows.length, kCap: choice.k, kWhy: choice.why, cacheBytes: t.total + d.total, deadBytes: t.dead + d.dead, compactMs };
  }
}
