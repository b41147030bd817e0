import type { BackendConfig, GatewayConfig } from '../config.ts';
import type { UpstreamClient } from './client.ts';

interface Entry {
  /** Model id → fingerprint, as this backend's GET /v1/models listed them. */
  models: Map<string, string>;
  expires: number;
}

type ModelListing = { data?: { id?: string; x_verdict?: { fingerprint?: string } }[] };

/**
 * Each backend's fingerprint of each model (weights + tokenizer + settings), from that backend's own
 * GET /v1/models, kept for a minute per isolate. It is part of every cache key, so a redeployed model never
 * serves old answers — and it is per backend, because during a rolling deploy two backends can serve
 * different builds under one model id: an answer is stored under the fingerprint of the backend that produced
 * it, and looked up under the fingerprints of the backends that could serve the request.
 */
export class FingerprintCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry | null>>();

  constructor(
    private readonly upstream: UpstreamClient,
    private readonly ttlMs = 60_000,
  ) {}

  /** The fingerprint of `model` on each of `backends`, by backend url; null where it is unknown. */
  async forBackends(config: GatewayConfig, backends: BackendConfig[], model: string): Promise<Map<string, string | null>> {
    const found = await Promise.all(backends.map((b) => this.of(config, b, model)));
    return new Map(backends.map((b, i) => [b.url, found[i]]));
  }

  /** The fingerprint of `model` on one backend (null: the backend did not answer its list, or lacks the model). */
  async of(config: GatewayConfig, backend: BackendConfig, model: string): Promise<string | null> {
    let entry = this.entries.get(backend.url);
    if (!entry || entry.expires <= Date.now()) {
      let p = this.pending.get(backend.url);
      if (!p) {
        p = this.fetchList(config, backend).finally(() => this.pending.delete(backend.url));
        this.pending.set(backend.url, p);
      }
      entry = (await p) ?? undefined;
    }
    return entry?.models.get(model) ?? null;
  }

  private async fetchList(config: GatewayConfig, backend: BackendConfig): Promise<Entry | null> {
    // No list → no fingerprint → nothing is looked up or stored under this backend; the generation call reports the real error.
    const list = await this.upstream.getJson<ModelListing>(config, backend, '/v1/models');
    if (!list) return null;
    const models = new Map<string, string>();
    for (const m of list.data ?? []) {
      const fingerprint = m.x_verdict?.fingerprint;
      if (m.id && typeof fingerprint === 'string') models.set(m.id, fingerprint);
    }
    // The whole list is kept, so a model it lacks is remembered as such too and its requests do not re-fetch it.
    const entry = { models, expires: Date.now() + this.ttlMs };
    this.entries.set(backend.url, entry);
    return entry;
  }
}
