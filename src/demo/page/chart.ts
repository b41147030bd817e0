import { barFractions, type TimingBar } from '../timing.ts';
import { formatMs } from '../figures.ts';
import { el } from './dom.ts';

const DESCRIPTIONS: Record<TimingBar['name'], string> = {
  queue: 'waiting for a free worker',
  prefill: 'reading the prompt',
  draft: 'draft model proposing tokens',
  verify: 'target model checking them',
  judge: 'judge head scoring them',
  edge: 'time in the edge worker',
  upstream: 'edge to the backend’s first byte',
};

/** The timing breakdown as a small horizontal bar chart (divs; widths set through CSSOM, which the CSP allows). */
export function renderChart(bars: readonly TimingBar[], scaleMs?: number, fromCache = false): HTMLElement {
  const figure = el('figure', { class: 'chart' });
  const when = fromCache ? ' — recorded when the answer was generated; edge is this replay' : '';
  figure.append(el('figcaption', {}, `Server time breakdown (faded: from the Server-Timing header)${when}`));
  const fractions = barFractions(bars, scaleMs);
  bars.forEach((b, i) => {
    const row = el('div', { class: 'bar-row', title: DESCRIPTIONS[b.name] });
    const track = el('div', { class: 'bar-track', role: 'img', 'aria-label': `${b.name}: ${formatMs(b.ms)} (${DESCRIPTIONS[b.name]})` });
    const bar = el('div', { class: b.source === 'server-timing' ? 'bar from-header' : 'bar' });
    track.append(bar);
    row.append(el('span', {}, b.name), track, el('span', { class: 'bar-value' }, formatMs(b.ms)));
    figure.append(row);
    // Set after insertion so the width transition runs.
    requestAnimationFrame(() => (bar.style.width = `${(fractions[i] * 100).toFixed(1)}%`));
  });
  if (!bars.length) figure.append(el('p', { class: 'mix' }, 'No timings came with this answer.'));
  return figure;
}
