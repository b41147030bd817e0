import type { Mode } from '@verdict/protocol/browser';
import { DEMO_PRESETS, findPreset } from '../presets.ts';
import { DEMO_CHAT_PATH, DEMO_MODELS_PATH, REGENERATE_TEMPERATURE, chatBody, fallbackMode, modesOf, pickModel, validateSettings, type PaneSettings, type ReplayPace } from '../request.ts';
import { describeHttpError, describeNetworkError } from '../errors.ts';
import { formatNumber } from '../figures.ts';
import { Pane, type PaneResult } from './pane.ts';
import { byId, el } from './dom.ts';

const form = byId<HTMLFormElement>('run-form');
const prompt = byId<HTMLTextAreaElement>('prompt');
const presetList = byId<HTMLDivElement>('preset-list');
const modeA = byId<HTMLSelectElement>('mode-a');
const modeB = byId<HTMLSelectElement>('mode-b');
const kInput = byId<HTMLInputElement>('k');
const thresholdInput = byId<HTMLInputElement>('threshold');
const klInput = byId<HTMLInputElement>('kl-threshold');
const replaySelect = byId<HTMLSelectElement>('replay');
const runButton = byId<HTMLButtonElement>('run');
const regenerateButton = byId<HTMLButtonElement>('regenerate');
const stopButton = byId<HTMLButtonElement>('stop');
const modelLine = byId<HTMLSpanElement>('model');
const formError = byId<HTMLParagraphElement>('form-error');
const verdict = byId<HTMLParagraphElement>('verdict');
const panes = { a: new Pane(byId('pane-a'), 'a'), b: new Pane(byId('pane-b'), 'b') };

let model: string | null = null;
let noJudge = false;
let running: AbortController | null = null;

function showFormError(message: string | null): void {
  formError.textContent = message ?? '';
  formError.hidden = message == null;
}

/** The select's options are the protocol's modes (index.html); importing MODES would pull zod into the page. */
function asMode(select: HTMLSelectElement): Mode {
  return select.value as Mode;
}

function settingsFor(select: HTMLSelectElement): PaneSettings {
  return { mode: asMode(select), k: Number(kInput.value), threshold: Number(thresholdInput.value), klThreshold: Number(klInput.value) };
}

/** The model to ask for: the first one the public demo route lists (fetched once, retried on the next run if it failed). */
async function ensureModel(): Promise<string | null> {
  if (model) return model;
  modelLine.textContent = 'finding the model…';
  try {
    const res = await fetch(DEMO_MODELS_PATH, { headers: { accept: 'application/json' } });
    if (!res.ok) {
      showFormError(`Could not list the models: ${describeHttpError(res.status, await res.text().catch(() => ''), res.headers.get('retry-after'))}`);
      modelLine.textContent = '';
      return null;
    }
    const list: unknown = await res.json();
    model = pickModel(list);
    if (!model) showFormError('The gateway lists no models, so there is nothing to run.');
    else {
      const modes = modesOf(list, model);
      noJudge = modes != null && !modes.includes('judge');
      offerModes(modes);
    }
  } catch (e) {
    showFormError(describeNetworkError(e));
  }
  modelLine.textContent = model ? `model: ${model}${noJudge ? ' (no judge head, so the judge mode is off)' : ''}` : '';
  return model;
}

/**
 * Disables the modes the model lacks (a bundle without a judge head has no `judge`) and moves a pane off one:
 * the left pane falls back towards `exact`, the right towards `judge`, then `kl`.
 */
function offerModes(available: Mode[] | null): void {
  const fallbacks: [HTMLSelectElement, Mode[]][] = [
    [modeA, ['exact', 'target', 'kl', 'entropy', 'judge']],
    [modeB, ['judge', 'kl', 'entropy', 'exact', 'target']],
  ];
  for (const [select, order] of fallbacks) {
    for (const option of select.options) {
      const missing = available != null && !available.includes(option.value as Mode);
      option.disabled = missing;
      option.textContent = option.textContent!.replace(/ — not in this model$/, '') + (missing ? ' — not in this model' : '');
    }
    if (available && !available.includes(select.value as Mode)) select.value = fallbackMode(order, available);
  }
  syncModes();
}

function setRunning(on: boolean): void {
  runButton.disabled = on;
  regenerateButton.disabled = on;
  stopButton.disabled = !on;
  form.setAttribute('aria-busy', String(on));
}

/** Says which pane finished first and by how much, once both are complete. */
function summarise(a: PaneResult, b: PaneResult, modes: [Mode, Mode], replay: ReplayPace): void {
  if (!a.ok || !b.ok) {
    verdict.hidden = true;
    return;
  }
  const cached = a.cache === 'hit' || b.cache === 'hit';
  const drafted = a.cache === 'draft' || b.cache === 'draft';
  const [fast, slow, fastMode, slowMode] = a.elapsedMs <= b.elapsedMs ? [a, b, modes[0], modes[1]] : [b, a, modes[1], modes[0]];
  const ratio = slow.elapsedMs / Math.max(fast.elapsedMs, 1e-3);
  const perStep = (r: PaneResult) => formatNumber(r.figures.acceptedPerStep, 2);
  verdict.textContent =
    `${fastMode} finished ${formatNumber(ratio, 1)}× sooner than ${slowMode}` +
    ` (${perStep(modes[0] === fastMode ? a : b)} vs ${perStep(modes[0] === fastMode ? b : a)} tokens per target pass)` +
    (cached
      ? replay === 'recorded'
        ? ' — replayed from the edge cache at the recorded pace.'
        : ' — replayed from the edge cache instantly, so the times say little.'
      : drafted
        ? ' — generated afresh, with the cached answer as the draft.'
        : '.');
  verdict.hidden = false;
}

/**
 * Runs both panes on the prompt. `temperature` 0 is the normal run (its answers are shared through the edge
 * cache); "Regenerate" samples at REGENERATE_TEMPERATURE, which the cache never answers, but the gateway sends the
 * earlier T = 0 answer as each pane's `prediction`: its kept tokens are coloured as `prediction`.
 */
async function runBoth(temperature = 0): Promise<void> {
  showFormError(null);
  verdict.hidden = true;
  const text = prompt.value.trim();
  if (!text) return showFormError('Write a prompt or pick a demo prompt first.');
  const a = settingsFor(modeA);
  const b = settingsFor(modeB);
  const invalid = validateSettings(a);
  if (invalid) return showFormError(invalid);
  const m = await ensureModel();
  if (!m) return;

  running?.abort();
  const controller = new AbortController();
  running = controller;
  setRunning(true);
  panes.a.setMode(a.mode);
  panes.b.setMode(b.mode);
  const replay = replaySelect.value as ReplayPace;
  const claimed = new Set<PerformanceEntry>();
  const common = { url: DEMO_CHAT_PATH, replay, signal: controller.signal, claimed };
  try {
    // Both start together: the point is to watch them race.
    const [ra, rb] = await Promise.all([panes.a.run({ ...common, body: chatBody(m, text, a, undefined, temperature) }), panes.b.run({ ...common, body: chatBody(m, text, b, undefined, temperature) })]);
    summarise(ra, rb, [a.mode, b.mode], replay);
    // One scale for both charts, so their bars compare.
    const scale = Math.max(panes.a.chartMax(), panes.b.chartMax());
    panes.a.rescaleChart(scale);
    panes.b.rescaleChart(scale);
  } finally {
    if (running === controller) {
      running = null;
      setRunning(false);
    }
  }
}

function markPreset(id: string | null): void {
  for (const b of presetList.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.preset === id));
}

for (const p of DEMO_PRESETS) {
  const button = el('button', { type: 'button', 'data-preset': p.id, 'aria-pressed': 'false', title: p.prompt }, p.title);
  button.addEventListener('click', () => {
    prompt.value = p.prompt;
    markPreset(p.id);
    void runBoth();
  });
  presetList.append(button);
}

prompt.addEventListener('input', () => markPreset(DEMO_PRESETS.find((p) => p.prompt === prompt.value)?.id ?? null));
// Ctrl/Cmd+Enter in the prompt runs, as in most chat boxes; plain Enter keeps adding lines.
prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    form.requestSubmit();
  }
});
form.addEventListener('submit', (e) => {
  e.preventDefault();
  void runBoth();
});
regenerateButton.addEventListener('click', () => void runBoth(REGENERATE_TEMPERATURE));
stopButton.addEventListener('click', () => running?.abort());
function syncModes(): void {
  panes.a.setMode(asMode(modeA));
  panes.b.setMode(asMode(modeB));
}
modeA.addEventListener('change', syncModes);
modeB.addEventListener('change', syncModes);

// Start with the first preset in the box (not run: a visit costs nothing until someone asks).
const first = findPreset(DEMO_PRESETS[0].id)!;
prompt.value = first.prompt;
markPreset(first.id);
syncModes();
void ensureModel();
