import { isDeterministic } from '@verdict/protocol';
import type { BackendConfig, GatewayConfig } from '../config.ts';
import type { RequestKind } from '@verdict/protocol';
import { cacheKey } from '../cache/key.ts';
import type { UpstreamClient } from '../upstream/client.ts';
import type { FingerprintCache } from '../upstream/fingerprint.ts';
import type { GenerationRequest } from './validate.ts';

/** What the cache may do for one request. */
export type CachePolicy =
  /** Look up, join an identical generation in flight, store the answer. */
  | 'lookup'
  /** `Cache-Control: no-cache`: generate afresh (no lookup, no joining) and store the new answer. */
  | 'refresh'
  /** Not deterministic, caching disabled for the route, or `Cache-Control: no-store`: no cache at all. */
  | 'bypass';

export function cachePolicy(requestCacheControl: string | undefined, deterministic: boolean, ttlSeconds: number): CachePolicy {
  if (!deterministic || ttlSeconds <= 0) return 'bypass';
  const directives = (requestCacheControl ?? '').toLowerCase().split(',').map((d) => d.trim());
  if (directives.includes('no-store')) return 'bypass';
  if (directives.includes('no-cache') || directives.includes('max-age=0')) return 'refresh';
  return 'lookup';
}

/** One generation request as the later stages see it: plain data, no request context. */
export interface Generation {
  kind: RequestKind;
  request: GenerationRequest;
  stream: boolean;
  /** Cache and single-flight scope: the key's hash, or "public". */
  scope: string;
  ttl: number;
  policy: CachePolicy;
  /**
   * The healthy backends that serve the model, in the order they would be tried, drawn here when the cache is
   * used (their fingerprints are part of the key); undefined when it is bypassed (drawn at call time).
   */
  order?: BackendConfig[];
  /**
   * The fingerprint each drawn backend serves the model under (null: unknown, nothing is stored or looked up
   * under it). During a rolling deploy they can differ: a lookup tries each distinct fingerprint's key, a
   * generation joins or registers a flight under the key of the backend drawn first, and its answer is stored
   * under the fingerprint of the backend that actually produced it (after a retry, possibly another one).
   */
  fingerprints: Map<string, string | null>;
  /** The distinct known fingerprints: none means the cache plays no part (X-Cache BYPASS). */
  distinct: string[];
  /** The cache (and flight) key under one fingerprint, computed once. */
  keyFor(fingerprint: string): Promise<string>;
}

export interface PolicyInput {
  kind: RequestKind;
  request: GenerationRequest;
  scope: string;
  ttl: number;
  cacheControl: string | undefined;
}

/** Stage 1, policy: what the cache may do, and (when it may do anything) the backends and their fingerprints. */
export async function planGeneration(input: PolicyInput, config: GatewayConfig, upstream: UpstreamClient, fingerprints: FingerprintCache): Promise<Generation> {
  const { kind, request, scope, ttl } = input;
  const policy = cachePolicy(input.cacheControl, isDeterministic(request), ttl);
  let order: BackendConfig[] | undefined;
  let found = new Map<string, string | null>();
  if (policy !== 'bypass') {
    order = await upstream.candidates(config, request.model);
    found = await fingerprints.forBackends(config, order, request.model);
  }
  const keys = new Map<string, Promise<string>>();
  return {
    kind,
    request,
    stream: request.stream === true,
    scope,
    ttl,
    policy,
    order,
    fingerprints: found,
    distinct: [...new Set([...found.values()].filter((f): f is string => f !== null))],
    keyFor(fingerprint) {
      let k = keys.get(fingerprint);
      if (!k) keys.set(fingerprint, (k = cacheKey(kind, request, fingerprint, scope)));
      return k;
    },
  };
}
