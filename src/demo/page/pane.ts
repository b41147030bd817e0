import type { Mode } from '@verdict/protocol/browser';
import { HEADERS, parseServerTiming, SSE_CONTENT_TYPE, type ServerTimingEntry } from '@verdict/protocol/browser';
import { readChatStream } from '../stream.ts';
import { chunkSegments, provenanceClass } from '../provenance.ts';
import { LiveFigures, formatMs, formatNumber, type FiguresSnapshot } from '../figures.ts';
import { cacheStatus, timingBars, type CacheStatus, type TimingBar } from '../timing.ts';
import { describeHttpError, describeNetworkError } from '../errors.ts';
import { REPLAY_HEADER, type ReplayPace } from '../request.ts';
import { renderChart } from './chart.ts';
import { el } from './dom.ts';
import { serverTimingOf } from './resource-timing.ts';

export interface PaneRun {
  url: string;
  body: Record<string, unknown>;
  replay: ReplayPace;
  signal: AbortSignal;
  /** Resource-timing entries already matched to another pane of the same run. */
  claimed: Set<PerformanceEntry>;
}

export interface PaneResult {
  ok: boolean;
  /** Request sent → stream complete, as the visitor saw it. */
  elapsedMs: number;
  figures: FiguresSnapshot;
  cache: CacheStatus;
}

const BADGE_TEXT: Record<CacheStatus, string> = {
  hit: 'edge cache hit',
  miss: 'fresh from the backend',
  bypass: 'not cached',
  draft: 'fresh, with a cached answer as the draft',
  unknown: '',
};

/** One side of the comparison: streams a request and renders its tokens, figures, errors and timing chart. */
export class Pane {
  private readonly title: HTMLHeadingElement;
  private readonly badge: HTMLSpanElement;
  private readonly status: HTMLSpanElement;
  private readonly output: HTMLDivElement;
  private readonly figures: Record<'ttft' | 'rate' | 'perStep' | 'tokens', HTMLElement>;
  private readonly mix: HTMLParagraphElement;
  private readonly error: HTMLParagraphElement;
  private readonly chartSlot: HTMLDivElement;
  private bars: TimingBar[] = [];
  private barsFromCache = false;

  constructor(root: HTMLElement, private readonly side: 'a' | 'b') {
    this.title = el('h2', { id: `pane-${side}-title` });
    this.badge = el('span', { class: 'badge', hidden: '' });
    this.status = el('span', { class: 'status', role: 'status' });
    const head = el('div', { class: 'pane-head' });
    head.append(this.title, this.badge, this.status);
    // Not aria-live: announcing every token would drown a screen reader; the status line announces start and end.
    this.output = el('div', { class: 'output', tabindex: '0', 'aria-label': `Answer, ${side === 'a' ? 'left' : 'right'} pane` });
    const dl = el('dl', { class: 'figures' });
    const figure = (label: string) => {
      const box = el('div');
      const dd = el('dd', {}, '—');
      box.append(el('dt', {}, label), dd);
      dl.append(box);
      return dd;
    };
    this.figures = { ttft: figure('time to first token'), rate: figure('tokens / s'), perStep: figure('tokens / step'), tokens: figure('tokens') };
    this.mix = el('p', { class: 'mix' });
    this.error = el('p', { class: 'error', role: 'alert', hidden: '' });
    this.chartSlot = el('div');
    root.replaceChildren(head, this.output, dl, this.mix, this.error, this.chartSlot);
  }

  setMode(mode: Mode): void {
    this.title.textContent = mode;
    this.root().dataset.mode = mode;
  }

  private root(): HTMLElement {
    return this.title.parentElement!.parentElement!;
  }

  private reset(): void {
    this.output.replaceChildren();
    this.error.hidden = true;
    this.error.textContent = '';
    this.badge.hidden = true;
    this.chartSlot.replaceChildren();
    this.bars = [];
    this.mix.textContent = '';
    for (const dd of Object.values(this.figures)) dd.textContent = '—';
    this.root().dataset.state = 'running';
    this.root().dataset.cache = '';
  }

  showError(message: string): void {
    this.error.textContent = message;
    this.error.hidden = false;
    this.status.textContent = 'failed';
    this.root().dataset.state = 'error';
  }

  async run(req: PaneRun): Promise<PaneResult> {
    this.reset();
    this.status.textContent = 'waiting for the first token…';
    this.output.setAttribute('aria-busy', 'true');
    const startedAt = performance.now();
    const live = new LiveFigures(startedAt);
    let cache: CacheStatus = 'unknown';
    const fail = (message: string): PaneResult => {
      this.showError(message);
      return { ok: false, elapsedMs: performance.now() - startedAt, figures: live.snapshot(performance.now()), cache };
    };
    try {
      let res: Response;
      try {
        res = await fetch(req.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: SSE_CONTENT_TYPE, [REPLAY_HEADER]: req.replay },
          body: JSON.stringify(req.body),
          signal: req.signal,
        });
      } catch (e) {
        return fail(req.signal.aborted ? 'Stopped.' : describeNetworkError(e));
      }
      if (!res.ok || !res.body) return fail(describeHttpError(res.status, await res.text().catch(() => ''), res.headers.get('retry-after')));
      const headerTiming = parseServerTiming(res.headers.get('server-timing'));
      cache = cacheStatus(res.headers.get(HEADERS.cache), headerTiming, null);
      this.showBadge(cache, req.replay);

      let complete = false;
      try {
        for await (const item of readChatStream(res.body)) {
          if (item.kind === 'error') return fail(item.message);
          if (item.kind === 'done') {
            complete = true;
            break;
          }
          const now = performance.now();
          live.onChunk(item.chunk, now);
          this.append(chunkSegments(item.chunk));
          this.showFigures(live.snapshot(now));
          if (live.snapshot(now).ttftMs != null) this.status.textContent = 'streaming…';
        }
      } catch (e) {
        return fail(req.signal.aborted ? 'Stopped.' : `The stream broke off: ${(e as Error).message}`);
      }
      if (!complete) return fail('The stream ended early.');

      const endedAt = performance.now();
      const final = live.snapshot(endedAt);
      this.showFigures(final);
      const fromResourceTiming = await serverTimingOf(req.url, startedAt, req.claimed);
      const serverTiming: ServerTimingEntry[] = fromResourceTiming ?? headerTiming;
      cache = cacheStatus(res.headers.get(HEADERS.cache), serverTiming, final.timings);
      this.showBadge(cache, req.replay);
      this.bars = timingBars(final.timings, serverTiming);
      this.barsFromCache = cache === 'hit';
      this.chartSlot.replaceChildren(renderChart(this.bars, undefined, this.barsFromCache));
      this.status.textContent = `done in ${formatMs(endedAt - startedAt)}`;
      this.root().dataset.state = 'done';
      return { ok: true, elapsedMs: endedAt - startedAt, figures: final, cache };
    } finally {
      this.output.removeAttribute('aria-busy');
    }
  }

  /** The longest bar of this pane's chart (0 when there is none). */
  chartMax(): number {
    return Math.max(0, ...this.bars.map((b) => b.ms));
  }

  rescaleChart(scaleMs: number): void {
    if (this.bars.length) this.chartSlot.replaceChildren(renderChart(this.bars, scaleMs, this.barsFromCache));
  }

  private append(segments: ReturnType<typeof chunkSegments>): void {
    const stick = this.output.scrollTop + this.output.clientHeight >= this.output.scrollHeight - 4;
    for (const s of segments) {
      const cls = provenanceClass(s.provenance);
      const last = this.output.lastElementChild as HTMLSpanElement | null;
      if (last && last.className === cls) last.append(s.text);
      else this.output.append(el('span', { class: cls }, s.text));
    }
    if (stick) this.output.scrollTop = this.output.scrollHeight;
  }

  private showFigures(f: FiguresSnapshot): void {
    this.figures.ttft.textContent = formatMs(f.ttftMs);
    this.figures.rate.textContent = formatNumber(f.tokensPerS, 0);
    this.figures.perStep.textContent = formatNumber(f.acceptedPerStep, 2);
    this.figures.tokens.textContent = String(f.tokens);
    const b = f.byProvenance;
    this.mix.textContent = f.tokens ? `${f.steps} steps · draft ${b.draft} · judge ${b.judge}${b.prediction ? ` · prediction ${b.prediction}` : ''} · target ${b.target}` : '';
  }

  private showBadge(cache: CacheStatus, replay: ReplayPace): void {
    this.root().dataset.cache = cache;
    if (cache === 'unknown') {
      this.badge.hidden = true;
      return;
    }
    this.badge.textContent = cache === 'hit' ? `${BADGE_TEXT.hit} · ${replay === 'recorded' ? 'replayed at recorded pace' : 'replayed instantly'}` : BADGE_TEXT[cache];
    this.badge.className = cache === 'hit' ? 'badge hit' : cache === 'draft' ? 'badge draft' : 'badge miss';
    this.badge.hidden = false;
  }
}
