import type { BenchSummary } from './schema.ts';
import { significant } from './stats.ts';

/** Markdown pieces the bench reports share. */
export const n = (x: number | null | undefined, d = 3): string => (x == null || !Number.isFinite(x) ? '—' : String(significant(x, d)));
export const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
export const table = (head: string[], rows: (string | number)[][]) => [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');

/** The "## Machine" section: where the numbers came from. */
export function machineSection(m: BenchSummary['machine']): string {
  return [
    '## Machine',
    '',
    table(
      ['CPU', 'cores', 'memory', 'OS', 'Node', 'onnxruntime', 'load avg (1 min) at start / end'],
      [[m.cpu_model, m.cores, `${m.memory_gib} GiB`, m.os, m.node, m.onnxruntime, `${n(m.load_avg_1m)} / ${n(m.load_avg_1m_end)}`]],
    ),
  ].join('\n');
}
