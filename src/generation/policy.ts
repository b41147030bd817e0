import { isDeterministic } from '@verdict/protocol';
import type { BackendConfig, GatewayConfig } from '../config.ts';
import type { RequestKind } from '@verdict/protocol';
import { draftKeys, type DraftKeys } from '../cache/draft-key.ts';
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

/** What cache-as-draft may do for one request (docs/gateway.md, "Cache as draft"). */
export interface DraftPolicy {
  /** Send a held answer for the same conversation as the request's `prediction` (the draft stage). */
  use: boolean;
  /** Hold this request's complete answer as a draft for later ones (the record stage). */
  record: boolean;
}

/**
 * Cache-as-draft follows the cache's own rules: nothing on a route whose TTL is 0 or with `Cache-Control:
 * no-store`; `no-cache` (generate afresh) records the new answer but sends no draft, so the answer owes nothing
 * to the cache. A request's own `prediction` wins (nothing is attached), and an `echo` answer (the prompt, then
 * the completion) is not held; nor is a draft attached where the backend would not propose from it (`target`
 * mode, or a `speculative.proposer` the request set itself), nor to a deterministic request whose answer the draft
 * could change (anything but T = 0 in `exact` mode). Unlike the answer cache it does not need a deterministic request: a T > 0
 * regeneration is what it is for.
 */
export function draftPolicy(enabled: boolean, requestCacheControl: string | undefined, ttlSeconds: number, request: GenerationRequest): DraftPolicy {
  if (!enabled || ttlSeconds <= 0) return { use: false, record: false };
  const directives = (requestCacheControl ?? '').toLowerCase().split(',').map((d) => d.trim());
  if (directives.includes('no-store')) return { use: false, record: false };
  const echo = 'echo' in request && request.echo === true;
  const fresh = directives.includes('no-cache') || directives.includes('max-age=0');
  // Nothing to attach to: no speculation at all (target mode), or a proposer the request chose itself.
  const speculates = request.speculative?.mode !== 'target' && request.speculative?.proposer === undefined;
  // A deterministic request's answer must stay a function of the request (it is cached and replayed as that):
  // only greedy `exact` decoding is the target's own text whatever the draft. In the lenient modes, or sampling
  // with a seed, the proposal shapes the answer, so such a request goes without one.
  const draftFree = !isDeterministic(request) || (request.temperature === 0 && request.speculative?.mode === 'exact');
  return { use: !fresh && request.prediction == null && speculates && draftFree && request.max_tokens !== 0, record: !echo };
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
  /** Cache-as-draft for this request. */
  drafts: DraftPolicy;
  /** The draft index's keys for this request (scope included), computed once. */
  draftKeys(): Promise<DraftKeys>;
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
  let drafts: Promise<DraftKeys> | undefined;
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
    drafts: draftPolicy(config.cacheAsDraft, input.cacheControl, ttl, request),
    draftKeys: () => (drafts ??= draftKeys(kind, request, scope)),
  };
}
