import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { PrPoint } from './metrics.ts';

/** The held-out precision–recall curve as an SVG, with the chosen operating point marked. */
export async function prCurveSvg(curve: PrPoint[], chosen: { threshold: number; precision: number; recall: number }, title: string): Promise<string> {
  // Thin very long curves: a few hundred points draw the same line.
  const step = Math.max(1, Math.floor(curve.length / 400));
  const points = curve.filter((_, i) => i % step === 0 || i === curve.length - 1);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 420,
    height: 320,
    layer: [
      {
        data: { values: points },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] }, title: 'recall (correct tokens accepted)' },
          y: { field: 'precision', type: 'quantitative', scale: { domain: [0, 1] }, title: 'precision' },
        },
      },
      {
        data: { values: [{ ...chosen, label: `threshold ${chosen.threshold.toFixed(3)}` }] },
        mark: { type: 'point', filled: true, size: 80, color: 'firebrick' },
        encoding: { x: { field: 'recall', type: 'quantitative' }, y: { field: 'precision', type: 'quantitative' } },
      },
      {
        data: { values: [{ ...chosen, label: `threshold ${chosen.threshold.toFixed(3)}` }] },
        mark: { type: 'text', align: 'left', dx: 8, dy: -8, color: 'firebrick' },
        encoding: { x: { field: 'recall', type: 'quantitative' }, y: { field: 'precision', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
