import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createGatewayState } from '../gateway-state.ts';
import { FakeBackends } from '../../test/worker/fake-backend.ts';
import { flightKey, joinFlight } from './join.ts';
import { lookUpAnswer } from './lookup.ts';
import { planGeneration, type PolicyInput } from './policy.ts';
import { recordAnswer } from './record-answer.ts';
import { parseGenerationRequest } from './validate.ts';
import { startUpstream } from './upstream.ts';

// Each generation stage called on its own, without Hono or a request context: plain data in, plain data out.
function setup(fingerprint = `fp-${crypto.randomUUID()}`) {
  const backends = new FakeBackends({ 'a.test': { fingerprint } });
  const config = loadConfig({ BACKENDS: JSON.stringify([{ url: 'http://a.test', models: ['tiny'] }]), UPSTREAM_TIMEOUT_MS: '300', STALL_TIMEOUT_MS: '300' });
  const state = createGatewayState(config, { fetch: backends.fetch, random: () => 0 });
  const input = (cacheControl?: string, extra: Record<string, unknown> = {}): PolicyInput => ({
    kind: 'chat',
    request: parseGenerationRequest('chat', new TextEncoder().encode(JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: `hi ${fingerprint}` }], temperature: 0, ...extra }))),
    scope: 'key:test',
    ttl: 60,
    cacheControl,
  });
  return { backends, config, state, input, fingerprint };
}

describe('generation stages, each alone', () => {
  it('policy: no-store bypasses without drawing backends; a deterministic request draws them and their fingerprints', async () => {
    const { config, state, input, fingerprint, backends } = setup();
    const bypass = await planGeneration(input('no-store'), config, state.upstream, state.fingerprints);
    expect(bypass).toMatchObject({ policy: 'bypass', order: undefined, distinct: [] });
    expect(backends.calls).toHaveLength(0);
    const lookup = await planGeneration(input(), config, state.upstream, state.fingerprints);
    expect(lookup.policy).toBe('lookup');
    expect(lookup.order?.map((b) => b.url)).toEqual(['http://a.test']);
    expect(lookup.distinct).toEqual([fingerprint]);
    expect(await lookup.keyFor(fingerprint)).toMatch(/^[0-9a-f]{64}$/);
    expect((await planGeneration(input('no-cache'), config, state.upstream, state.fingerprints)).policy).toBe('refresh');
  });

  it('upstream → record → lookup: a generation started alone is recorded under its fingerprint and then found', async () => {
    const { config, state, input } = setup();
    const g = await planGeneration(input(), config, state.upstream, state.fingerprints);
    expect(await lookUpAnswer(g, state.store, undefined)).toBeNull();
    const flight = startUpstream(g, config, state.upstream, 'req-test');
    const membership = flight.join();
    const opening = await flight.opening;
    expect(opening).toMatchObject({ kind: 'json', status: 200, backend: 'http://a.test' });
    membership.leave();
    await recordAnswer(g, flight, state.store, undefined);
    const hit = await lookUpAnswer(g, state.store, undefined);
    expect(hit).toMatchObject({ tier: 'cache', record: { v: 1, kind: 'json' } });
  });

  it('join: a registered flight is joined on lookup, never on refresh or bypass', async () => {
    const { config, state, input } = setup();
    const g = await planGeneration(input(), config, state.upstream, state.fingerprints);
    const key = await flightKey(g);
    expect(key).toBe(await g.keyFor(g.distinct[0]));
    expect(joinFlight(g, key, state.flights)).toBeUndefined();
    const flight = startUpstream(g, config, state.upstream, undefined);
    let release!: () => void;
    state.flights.add(key!, flight, new Promise<void>((r) => (release = r)));
    expect(joinFlight(g, key, state.flights)).toBe(flight);
    const refresh = await planGeneration(input('no-cache'), config, state.upstream, state.fingerprints);
    expect(joinFlight(refresh, await flightKey(refresh), state.flights)).toBeUndefined();
    const bypass = await planGeneration(input('no-store'), config, state.upstream, state.fingerprints);
    expect(await flightKey(bypass)).toBeNull();
    const membership = flight.join();
    await flight.opening;
    membership.leave();
    release();
  });
});
