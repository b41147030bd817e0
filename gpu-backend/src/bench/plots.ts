import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { GatewayResult, LoadRow, SweepPoint } from './schema.ts';

/** Renders a vega-lite spec to a standalone SVG string (no canvas, no browser). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Tokens/s against K, one line per mode; target (no K) is a horizontal rule. */
export function tokensPerSecondSpec(sweep: SweepPoint[]): TopLevelSpec {
  const spec = sweep.filter((p) => p.k != null).map((p) => ({ mode: p.mode, k: p.k, tokens_per_s: p.tokens_per_s }));
  const ks = [...new Set(sweep.flatMap((p) => (p.k == null ? [] : [p.k])))].sort((a, b) => a - b);
  const target = sweep.filter((p) => p.mode === 'target').map((p) => ({ mode: 'target', tokens_per_s: p.tokens_per_s }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Decoding speed by mode and K (temperature 0)',
    width: 480,
    height: 280,
    layer: [
      {
        data: { values: spec },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'k', type: 'quantitative', title: 'K (draft tokens per step)', scale: { type: 'log', base: 2 }, axis: { values: ks, format: 'd' } },
          y: { field: 'tokens_per_s', type: 'quantitative', title: 'tokens/s' },
          color: { field: 'mode', type: 'nominal', title: 'mode' },
        },
      },
      {
        data: { values: target },
        mark: { type: 'rule', strokeDash: [6, 4], color: 'black' },
        encoding: { y: { field: 'tokens_per_s', type: 'quantitative' } },
      },
      {
        data: { values: target },
        mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: 'black' },
        encoding: { y: { field: 'tokens_per_s', type: 'quantitative' }, x: { value: 0 }, text: { value: 'target (no draft)' } },
      },
    ],
  };
}

/** Share of steps accepting exactly n draft tokens, per speculative mode, at each mode's best K. */
export function acceptedHistogramSpec(points: SweepPoint[]): TopLevelSpec {
  const values = points.flatMap((p) => {
    const steps = p.accepted_histogram.reduce((a, b) => a + b, 0) || 1;
    return p.accepted_histogram.map((count, accepted) => ({ series: `${p.mode} K=${p.k}`, accepted, share: count / steps }));
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Draft tokens accepted per step (each mode at its best K)',
    data: { values },
    width: 480,
    height: 240,
    mark: 'bar',
    encoding: {
      x: { field: 'accepted', type: 'ordinal', title: 'draft tokens accepted in the step', axis: { labelAngle: 0 } },
      xOffset: { field: 'series' },
      y: { field: 'share', type: 'quantitative', title: 'share of steps', axis: { format: '%' } },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

/** Latency distribution of each gateway series (direct vs through the worker). */
export function gatewayLatencySpec(gateway: GatewayResult): TopLevelSpec {
  const values = Object.entries(gateway.samples_ms ?? {}).flatMap(([series, samples]) => samples.map((ms) => ({ series, ms })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Gateway: request latency (loopback; box = p25–p75, whiskers = min–max)',
    data: { values },
    width: 480,
    height: { step: 28 },
    mark: { type: 'boxplot', extent: 'min-max' },
    encoding: {
      y: { field: 'series', type: 'nominal', title: null, sort: null, axis: { labelLimit: 320 } },
      x: { field: 'ms', type: 'quantitative', title: 'ms (log scale)', scale: { type: 'log' } },
    },
  };
}

/** Aggregate tokens/s against concurrent streams, one colour per mode, batching on solid and off dashed. */
export function loadThroughputSpec(rows: LoadRow[]): TopLevelSpec {
  return loadLineSpec(rows, 'agg_tokens_per_s', 'Load: aggregate tokens/s by concurrent streams', 'aggregate tokens/s');
}

/** p99 inter-token latency (gap between content chunks of one stream) against concurrent streams. */
export function loadItlSpec(rows: LoadRow[]): TopLevelSpec {
  return loadLineSpec(rows, 'p99_itl_ms', 'Load: p99 inter-token latency by concurrent streams', 'p99 gap between content chunks (ms)');
}

function loadLineSpec(rows: LoadRow[], field: 'agg_tokens_per_s' | 'p99_itl_ms', title: string, yTitle: string): TopLevelSpec {
  const values = rows.filter((r) => r[field] != null).map((r) => ({ mode: r.mode, batching: r.batching, streams: r.streams, [field]: r[field] }));
  const streams = [...new Set(rows.map((r) => r.streams))].sort((a, b) => a - b);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle: 'solid: batching on, dashed: batching off' },
    data: { values },
    width: 480,
    height: 280,
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      x: { field: 'streams', type: 'quantitative', title: 'concurrent streams', scale: { type: 'log', base: 2 }, axis: { values: streams, format: 'd' } },
      y: { field, type: 'quantitative', title: yTitle },
      color: { field: 'mode', type: 'nominal', title: 'mode' },
      strokeDash: { field: 'batching', type: 'nominal', title: 'batching', scale: { domain: ['on', 'off'], range: [[1, 0], [6, 4]] } },
      detail: { field: 'batching' },
    },
  };
}
