import type { GatewayConfig } from '../config.ts';
import type { GatewayState } from '../state.ts';
import { callUpstream } from './forward.ts';

interface Entry {
  fingerprint: string | null;
  expires: number;
}

/**
 * The backend's fingerprint of each model (weights + tokenizer + settings), from GET /v1/models, kept for a
 * minute per isolate. It is part of every cache key, so a redeployed model never serves old answers.
 */
export class FingerprintCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<string | null>>();

  constructor(private readonly ttlMs = 60_000) {}

  async get(config: GatewayConfig, state: GatewayState, model: string): Promise<string | null> {
    const hit = this.entries.get(model);
    if (hit && hit.expires > Date.now()) return hit.fingerprint;
    let p = this.pending.get(model);
    if (!p) {
      p = this.fetchAll(config, state, model).finally(() => this.pending.delete(model));
      this.pending.set(model, p);
    }
    return p;
  }

  private async fetchAll(config: GatewayConfig, state: GatewayState, model: string): Promise<string | null> {
    let list: { data?: { id?: string; x_verdict?: { fingerprint?: string } }[] };
    try {
      const { response } = await callUpstream(config, state, { method: 'GET', path: '/v1/models', model });
      if (!response.ok) {
        await response.body?.cancel();
        return null;
      }
      list = await response.json();
    } catch {
      return null; // no fingerprint → the request bypasses the cache; the generation call reports the real error
    }
    const expires = Date.now() + this.ttlMs;
    let found: string | null = null;
    for (const m of list.data ?? []) {
      const fingerprint = m.x_verdict?.fingerprint;
      if (!m.id || typeof fingerprint !== 'string') continue;
      this.entries.set(m.id, { fingerprint, expires });
      if (m.id === model) found = fingerprint;
    }
    // A model the list lacks is remembered as such too, so each of its requests does not re-fetch the list.
    if (found === null) this.entries.set(model, { fingerprint: null, expires });
    return found;
  }
}
