import { ApiError, type ModelList } from '@verdict/protocol';
import { candidates } from '../upstream/forward.ts';
import type { AppContext } from '../state.ts';

/** GET /v1/models: the union of what the healthy backends serve (first backend wins on duplicate ids). */
export async function listModels(c: AppContext): Promise<Response> {
  const { config, state } = c.var;
  const backends = await candidates(config, state, undefined);
  const lists = await Promise.all(
    backends.map(async (b) => {
      try {
        const res = await state.fetch(`${b.url}/v1/models`, { headers: b.authorization ? { authorization: b.authorization } : {}, signal: AbortSignal.timeout(config.upstreamTimeoutMs) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        state.health.recordSuccess(b.url);
        return ((await res.json()) as ModelList).data ?? [];
      } catch {
        state.health.recordFailure(b.url);
        return null;
      }
    }),
  );
  if (lists.every((l) => l === null)) throw new ApiError(503, 'No backend answered the model list; try again shortly', 'service_unavailable', null, 'no_healthy_backend', {
      'retry-after': String(Math.ceil(config.healthCooldownMs / 1000)),
    });
  const seen = new Map<string, ModelList['data'][number]>();
  for (const m of lists.flatMap((l) => l ?? [])) if (!seen.has(m.id)) seen.set(m.id, m);
  const body: ModelList = { object: 'list', data: [...seen.values()] };
  return Response.json(body);
}
