import type { Mode } from '@verdict/protocol';
import type { Batching } from './load-stats.ts';
import type { LoadRow, LoadSummary } from './schema.ts';
import { ratio, significant } from './stats.ts';

type Goal = LoadSummary['goals'][number];
type Ratios = LoadSummary['ratios'][number];

const fmt = (x: number, d = 3) => String(significant(x, d));
const MIB = 2 ** 20;

const SPECULATIVE: readonly Mode[] = ['exact', 'judge', 'kl', 'entropy'];

function find(rows: readonly LoadRow[], mode: Mode, batching: Batching, streams: number): LoadRow | undefined {
  return rows.find((r) => r.mode === mode && r.batching === batching && r.streams === streams);
}

/** The fastest speculative mode's row at one concurrency and batching setting. */
function bestSpeculative(rows: readonly LoadRow[], batching: Batching, streams: number): LoadRow | undefined {
  return rows.filter((r) => r.batching === batching && r.streams === streams && SPECULATIVE.includes(r.mode)).reduce<LoadRow | undefined>((a, r) => (!a || r.agg_tokens_per_s > a.agg_tokens_per_s ? r : a), undefined);
}

/** Per streams value, the ratios the goals use, side by side. */
export function loadRatios(rows: readonly LoadRow[]): Ratios[] {
  const streams = [...new Set(rows.map((r) => r.streams))].sort((a, b) => a - b);
  const modes = [...new Set(rows.map((r) => r.mode))];
  return streams.map((s) => {
    const scaling = (b: Batching) => ratio(find(rows, 'target', b, s)?.agg_tokens_per_s, find(rows, 'target', b, 1)?.agg_tokens_per_s);
    const spec = (b: Batching) => {
      const best = bestSpeculative(rows, b, s);
      return { mode: best?.mode ?? null, vs: ratio(best?.agg_tokens_per_s, find(rows, 'target', b, s)?.agg_tokens_per_s) };
    };
    const on = spec('on');
    const off = spec('off');
    const itl: Record<string, number | null> = {};
    for (const m of modes) itl[m] = ratio(find(rows, m, 'on', s)?.p99_itl_ms, find(rows, m, 'on', 1)?.p99_itl_ms);
    const diffs = modes.flatMap((m) => {
      const a = find(rows, m, 'on', s)?.rss_bytes;
      const b = find(rows, m, 'off', s)?.rss_bytes;
      return a != null && b != null ? [a - b] : [];
    });
    return {
      streams: s,
      target_scaling_on: scaling('on'),
      target_scaling_off: scaling('off'),
      best_spec_mode_on: on.mode,
      best_spec_vs_target_on: on.vs,
      best_spec_mode_off: off.mode,
      best_spec_vs_target_off: off.vs,
      p99_itl_vs_1_on: itl,
      rss_on_minus_off_bytes: diffs.length ? Math.max(...diffs) : null,
    };
  });
}

/**
 * The issue's load goals (batching on), each with its measured value and, when missed, by how much:
 * target scales ≥ 4× from 1 to 8 streams; the best speculative mode beats target by ≥ 1.2× at every
 * concurrency; p99 ITL at 8 streams ≤ 2× that at 1; and, with no threshold, what batching costs in RSS.
 */
export function evaluateLoadGoals(rows: readonly LoadRow[], ratios: readonly Ratios[]): Goal[] {
  const at = (s: number) => ratios.find((r) => r.streams === s);
  const goals: Goal[] = [];

  {
    const name = 'target 8 streams ≥ 4× 1 stream';
    const goal = 'batching on: target-mode aggregate tokens/s at 8 streams ≥ 4 × at 1 stream';
    const m = at(8)?.target_scaling_on ?? null;
    const t1 = find(rows, 'target', 'on', 1);
    const t8 = find(rows, 'target', 'on', 8);
    if (m == null || !t1 || !t8) goals.push({ name, goal, measured: null, met: null, note: 'not measured: needs target at 1 and 8 streams with batching on' });
    else {
      const off = at(8)?.target_scaling_off;
      const detail = `${fmt(t8.agg_tokens_per_s)} vs ${fmt(t1.agg_tokens_per_s)} tokens/s${off != null ? `; batching off scales ${fmt(off)}×` : ''}`;
      goals.push({ name, goal, measured: m, met: m >= 4, note: m >= 4 ? `met (${fmt(m)}×: ${detail})` : `missed: ${fmt(m)}× is ${fmt(4 / m)}× short of 4× (${detail})` });
    }
  }

  {
    const name = 'best speculative ≥ 1.2× target at every concurrency';
    const goal = 'batching on: the fastest speculative mode’s aggregate tokens/s ≥ 1.2 × target’s, at every streams value';
    const per = ratios.filter((r) => r.best_spec_vs_target_on != null);
    if (per.length === 0) goals.push({ name, goal, measured: null, met: null, note: 'not measured: needs target and a speculative mode with batching on' });
    else {
      const worst = per.reduce((a, r) => (r.best_spec_vs_target_on! < a.best_spec_vs_target_on! ? r : a));
      const list = per.map((r) => `${r.streams}: ${r.best_spec_mode_on} ${fmt(r.best_spec_vs_target_on!)}×`).join(', ');
      const misses = per.filter((r) => r.best_spec_vs_target_on! < 1.2);
      const m = worst.best_spec_vs_target_on!;
      goals.push({
        name,
        goal,
        measured: m,
        met: misses.length === 0,
        note: misses.length === 0 ? `met (lowest ${fmt(m)}× at ${worst.streams} streams; ${list})` : `missed at ${misses.map((r) => r.streams).join(', ')} streams: lowest ${fmt(m)}× at ${worst.streams}, ${fmt(1.2 / m)}× short of 1.2× (${list})`,
      });
    }
  }

  {
    const name = 'p99 ITL 8 streams ≤ 2× 1 stream';
    const goal = 'batching on: p99 inter-token latency at 8 streams ≤ 2 × at 1 stream, in every mode';
    const entries = Object.entries(at(8)?.p99_itl_vs_1_on ?? {}).filter((e): e is [string, number] => e[1] != null);
    if (entries.length === 0) goals.push({ name, goal, measured: null, met: null, note: 'not measured: needs 1 and 8 streams with batching on' });
    else {
      const [worstMode, m] = entries.reduce((a, e) => (e[1] > a[1] ? e : a));
      const list = entries.map(([mode, r]) => {
        const p8 = find(rows, mode as Mode, 'on', 8)?.p99_itl_ms;
        const p1 = find(rows, mode as Mode, 'on', 1)?.p99_itl_ms;
        return `${mode} ${fmt(r)}× (${fmt(p8 ?? Number.NaN)} vs ${fmt(p1 ?? Number.NaN)} ms)`;
      }).join(', ');
      goals.push({ name, goal, measured: m, met: m <= 2, note: m <= 2 ? `met (highest ${fmt(m)}×, ${worstMode}; ${list})` : `missed: ${worstMode} ${fmt(m)}× is ${fmt(m / 2)}× over 2× (${list})` });
    }
  }

  {
    const name = 'batching RSS cost';
    const goal = 'RSS of the batching-on server minus the batching-off server’s, in MiB (the batch cache’s extra memory; no threshold)';
    const with_ = ratios.filter((r) => r.rss_on_minus_off_bytes != null);
    if (with_.length === 0) goals.push({ name, goal, measured: null, met: null, note: 'not measured: no RSS readings (/proc is Linux only)' });
    else {
      const last = with_.at(-1)!;
      const list = with_.map((r) => `${r.streams}: ${fmt(r.rss_on_minus_off_bytes! / MIB)} MiB`).join(', ');
      goals.push({ name, goal, measured: last.rss_on_minus_off_bytes! / MIB, met: null, note: `no goal to meet; on − off = ${fmt(last.rss_on_minus_off_bytes! / MIB)} MiB at ${last.streams} streams (largest over modes; by streams: ${list})` });
    }
  }
  return goals;
}
