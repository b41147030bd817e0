import { ApiError, type ModelList } from '@verdict/protocol';
import type { AppContext } from '../context.ts';

/** GET /v1/models: the union of what the healthy backends serve (first backend wins on duplicate ids). */
export async function listModels(c: AppContext): Promise<Response> {
  const { config, state } = c.var;
  const backends = await state.upstream.candidates(config, undefined);
  const lists = await Promise.all(backends.map(async (b) => {
    const list = await state.upstream.getJson<ModelList>(config, b, '/v1/models');
    return list ? (list.data ?? []) : null;
  }));
  if (lists.every((l) => l === null)) throw new ApiError(503, 'No backend answered the model list; try again shortly', 'service_unavailable', null, 'no_healthy_backend', {
      'retry-after': String(Math.ceil(config.healthCooldownMs / 1000)),
    });
  const seen = new Map<string, ModelList['data'][number]>();
  for (const m of lists.flatMap((l) => l ?? [])) if (!seen.has(m.id)) seen.set(m.id, m);
  const body: ModelList = { object: 'list', data: [...seen.values()] };
  return Response.json(body);
}
