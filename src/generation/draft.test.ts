import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createGatewayState } from '../gateway-state.ts';
import { FakeBackends } from '../../test/worker/fake-backend.ts';
import { findDraft, withPrediction, type Draft } from './draft.ts';
import { draftPolicy, planGeneration, type PolicyInput } from './policy.ts';
import { recordAnswer } from './record-answer.ts';
import { startUpstream } from './upstream.ts';
import { parseGenerationRequest } from './validate.ts';

// The draft stage (cache-as-draft) and its share of the record stage, alone on plain data, like stages.test.ts.
function setup(vars: Record<string, string> = {}, backend: ConstructorParameters<typeof FakeBackends>[0][string] = {}) {
  const backends = new FakeBackends({ 'a.test': { fingerprint: `fp-${crypto.randomUUID()}`, words: ['Roses', ' are', ' red'], ...backend } });
  const config = loadConfig({ BACKENDS: JSON.stringify([{ url: 'http://a.test', models: ['tiny'] }]), UPSTREAM_TIMEOUT_MS: '300', STALL_TIMEOUT_MS: '300', CACHE_AS_DRAFT: 'on', ...vars });
  const state = createGatewayState(config, { fetch: backends.fetch, random: () => 0 });
  const topic = crypto.randomUUID();
  const input = (extra: Record<string, unknown> = {}, cacheControl?: string, scope = 'key:test'): PolicyInput => ({
    kind: 'chat',
    request: parseGenerationRequest('chat', new TextEncoder().encode(JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: `Write a poem about ${topic}` }], temperature: 0, ...extra }))),
    scope,
    ttl: 60,
    cacheControl,
  });
  const plan = (i: PolicyInput) => planGeneration(i, config, state.upstream, state.fingerprints);
  /** Runs one generation through upstream → record, as handle.ts does (no draft). */
  const generate = async (i: PolicyInput) => {
    const g = await plan(i);
    const flight = startUpstream(g, config, state.upstream, undefined);
    const m = flight.join();
    const opening = await flight.opening;
    // A stream is read to its end (leaving early would cancel it: nothing is recorded then).
    if (opening.kind === 'sse') await new Response(flight.stream(m, (d) => d)).text();
    else m.leave();
    await recordAnswer(g, flight, state.store, undefined, state.drafts);
    return g;
  };
  return { backends, config, state, input, plan, generate, topic };
}

describe('draft stage, alone', () => {
  it('policy: off, TTL 0, no-store, no-cache, an own prediction and target mode send no draft; what records', () => {
    const req = (extra: Record<string, unknown> = {}) => parseGenerationRequest('chat', new TextEncoder().encode(JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], temperature: 0.7, ...extra })));
    expect(draftPolicy(true, undefined, 60, req())).toEqual({ use: true, record: true });
    expect(draftPolicy(false, undefined, 60, req())).toEqual({ use: false, record: false });
    expect(draftPolicy(true, undefined, 0, req())).toEqual({ use: false, record: false });
    expect(draftPolicy(true, 'no-store', 60, req())).toEqual({ use: false, record: false });
    expect(draftPolicy(true, 'no-cache', 60, req())).toEqual({ use: false, record: true });
    expect(draftPolicy(true, undefined, 60, req({ prediction: { type: 'content', content: 'mine' } }))).toEqual({ use: false, record: true });
    expect(draftPolicy(true, undefined, 60, req({ speculative: { mode: 'target' } })).use).toBe(false);
    expect(draftPolicy(true, undefined, 60, req({ speculative: { mode: 'judge', proposer: 'draft' } })).use).toBe(false);
    expect(draftPolicy(true, undefined, 60, req({ speculative: { mode: 'judge', k: 8 } })).use).toBe(true);
    // deterministic requests: only greedy exact, whose answer is the target's whatever the draft
    expect(draftPolicy(true, undefined, 60, req({ temperature: 0, speculative: { mode: 'exact', k: 4 } })).use).toBe(true);
    expect(draftPolicy(true, undefined, 60, req({ temperature: 0, speculative: { mode: 'judge', k: 4 } }))).toEqual({ use: false, record: true });
    expect(draftPolicy(true, undefined, 60, req({ temperature: 0 })).use).toBe(false);
    expect(draftPolicy(true, undefined, 60, req({ seed: 3, speculative: { mode: 'exact' } })).use).toBe(false);
  });

  it('record → draft: a T = 0 answer is the draft of the same conversation at T = 0.7, in the same scope only', async () => {
    const { input, plan, generate, state } = setup();
    expect(await findDraft(await plan(input({ temperature: 0.7 })), state.drafts)).toBeNull();
    await generate(input());
    expect(await findDraft(await plan(input({ temperature: 0.7, max_tokens: 9, speculative: { mode: 'judge', k: 4 } })), state.drafts)).toEqual({ text: 'Roses are red', source: 'conversation' });
    expect(await findDraft(await plan(input({ temperature: 0.7 }, undefined, 'key:other')), state.drafts)).toBeNull();
    expect(await findDraft(await plan(input({ temperature: 0.7 }, 'no-cache')), state.drafts)).toBeNull();
  });

  it('an edited last user turn finds the answer to the one before, an unrelated one does not', async () => {
    const { input, plan, generate, state, topic } = setup();
    await generate(input());
    const edited = input({ speculative: { mode: 'exact', k: 4 }, messages: [{ role: 'user', content: `Write a short poem about ${topic}` }] });
    expect(await findDraft(await plan(edited), state.drafts)).toEqual({ text: 'Roses are red', source: 'edit' });
    const unrelated = input({ temperature: 0.7, messages: [{ role: 'user', content: 'What is the capital of France?' }] });
    expect(await findDraft(await plan(unrelated), state.drafts)).toBeNull();
  });

  it('streamed answers are recorded only when complete', async () => {
    const broken = setup({}, { breakAfter: { chunks: 1, how: 'truncate' } });
    await broken.generate(broken.input({ stream: true }));
    expect(broken.state.drafts.size).toBe(0);
    const whole = setup();
    await whole.generate(whole.input({ stream: true }));
    expect(await findDraft(await whole.plan(whole.input({ temperature: 1 })), whole.state.drafts)).toMatchObject({ text: 'Roses are red' });
    const off = setup({ CACHE_AS_DRAFT: 'off' });
    await off.generate(off.input());
    expect(off.state.drafts.size).toBe(0);
  });

  it('upstream: the draft goes as prediction; a backend that refuses the field gets the request again without it', async () => {
    expect(withPrediction({ model: 'tiny', messages: [] } as never, { text: 'x', source: 'edit' })).toMatchObject({ prediction: { type: 'content', content: 'x' } });
    const { input, plan, config, state, backends } = setup({}, { refusePrediction: true });
    const g = await plan(input({ temperature: 0.7 }));
    const draft: Draft = { text: 'Roses are red', source: 'conversation' };
    const flight = startUpstream(g, config, state.upstream, undefined, draft);
    const m = flight.join();
    expect(await flight.opening).toMatchObject({ kind: 'json', status: 200 });
    m.leave();
    expect(draft.refused).toBe(true);
    expect(backends.generations().map((c) => (c.body as { prediction?: unknown }).prediction ?? null)).toEqual([{ type: 'content', content: 'Roses are red' }, null]);
  });
});
