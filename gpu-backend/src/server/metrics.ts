import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Mode, StepStats } from '../engine/types.ts';

/**
 * Prometheus metrics of one server. Counters only (rates are the scraper's job), following
 * vLLM v1's spec-decode metrics: acceptance rate = accepted_tokens / draft_tokens, mean
 * acceptance length = 1 + accepted_tokens / drafts. Each server has its own registry, so
 * several servers in one process (tests) do not collide.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'status'>;
  readonly latency: Histogram<'route'>;
  readonly ttft: Histogram<'mode'>;
  readonly promptTokens: Counter<'mode'>;
  readonly generationTokens: Counter<'mode'>;
  readonly steps: Counter<'mode'>;
  readonly numDrafts: Counter<'mode'>;
  readonly numDraftTokens: Counter<'mode'>;
  readonly numAcceptedTokens: Counter<'mode'>;
  readonly acceptedPerPos: Counter<'mode' | 'position'>;
  readonly judgeAcceptedTokens: Counter<'mode'>;
  readonly batchRows: Histogram<never>;
  readonly batchSteps: Counter<'k_cap' | 'why'>;
  readonly batchCacheBytes: Gauge<'kind'>;

  constructor(load: { queued(): number; running(): number }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'verdict_' });
    this.requests = new Counter({ name: 'verdict_requests_total', help: 'HTTP requests by route and status code', labelNames: ['route', 'status'], registers });
    this.latency = new Histogram({
      name: 'verdict_request_duration_seconds',
      help: 'Time from request arrival to the last byte of the response',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.ttft = new Histogram({
      name: 'verdict_time_to_first_token_seconds',
      help: 'Time from request arrival to the first generated token',
      labelNames: ['mode'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Gauge({ name: 'verdict_queue_depth', help: 'Requests waiting for a generation slot', registers, collect() { this.set(load.queued()); } });
    new Gauge({ name: 'verdict_requests_running', help: 'Generations holding a slot (including ones being cancelled)', registers, collect() { this.set(load.running()); } });
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['mode'], registers });
    this.promptTokens = counter('verdict_prompt_tokens_total', 'Prompt tokens prefilled');
    this.generationTokens = counter('verdict_generation_tokens_total', 'Tokens generated (emitted to clients)');
    this.steps = counter('verdict_decode_steps_total', 'Target forward passes in the decode loop (one per step)');
    this.numDrafts = counter('verdict_spec_decode_num_drafts_total', 'Draft proposals verified (steps that drafted at least one token)');
    this.numDraftTokens = counter('verdict_spec_decode_num_draft_tokens_total', 'Draft tokens proposed');
    this.numAcceptedTokens = counter('verdict_spec_decode_num_accepted_tokens_total', 'Draft tokens accepted (by the exact rule or the judge)');
    this.acceptedPerPos = new Counter({
      name: 'verdict_spec_decode_num_accepted_tokens_per_pos_total',
      help: 'Draft tokens accepted at each draft position (0-based)',
      labelNames: ['mode', 'position'],
      registers,
    });
    this.batchRows = new Histogram({ name: 'verdict_batch_rows', help: 'Requests sharing each batched step, counted once per request per step', buckets: [1, 2, 4, 8, 16, 32, 64], registers });
    this.batchSteps = new Counter({
      name: 'verdict_batch_spec_steps_total',
      help: "Batched steps by the draft length cap chosen (k_cap; 0 = no speculation) and by whom (auto: the cost model; fixed: --spec-k fixed; disabled: --spec-disable-batch; probe: a refresh of the acceptance estimates), counted once per request per step",
      labelNames: ['k_cap', 'why'],
      registers,
    });
    this.batchCacheBytes = new Gauge({ name: 'verdict_batch_cache_bytes', help: "The batch KV caches' size after the last batched step: total, and dead (masked slots not yet compacted)", labelNames: ['kind'], registers });
    this.judgeAcceptedTokens = counter('verdict_spec_decode_num_judge_accepted_tokens_total', 'Accepted draft tokens the target would not have produced (kept only by the judge or kl rule)');
  }

  /** Counts one decode step as it happens, so cancelled generations are counted too. */
  observeStep(mode: Mode, emitted: number, s: StepStats): void {
    this.steps.inc({ mode });
    this.generationTokens.inc({ mode }, emitted);
    if (s.drafted > 0) {
      this.numDrafts.inc({ mode });
      this.numDraftTokens.inc({ mode }, s.drafted);
      this.numAcceptedTokens.inc({ mode }, s.accepted);
      // Accepted tokens form a prefix of the draft, so positions 0..accepted-1 were accepted.
      for (let i = 0; i < s.accepted; i++) this.acceptedPerPos.inc({ mode, position: String(i) });
    }
    if (s.judgeAccepted > 0) this.judgeAcceptedTokens.inc({ mode }, s.judgeAccepted);
    if (s.batch) {
      this.batchRows.observe(s.batch.rows);
      this.batchSteps.inc({ k_cap: String(s.batch.kCap), why: s.batch.kWhy });
      this.batchCacheBytes.set({ kind: 'total' }, s.batch.cacheBytes);
      this.batchCacheBytes.set({ kind: 'dead' }, s.batch.deadBytes);
    }
  }

  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
