/**
 * Talking to the Hub: the endpoint and token as the Hugging Face tools read them, one fetch that
 * adds the token and names the endpoint when the network fails, and errors that say what to fix.
 */
import { HubApiError } from '@huggingface/hub';

export interface HubSettings {
  /** Without a trailing slash, e.g. https://huggingface.co */
  endpoint: string;
  token?: string;
}

/** HF_ENDPOINT (default https://huggingface.co), HF_TOKEN, falling back to the older HUGGING_FACE_HUB_TOKEN. */
export function hubSettings(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const endpoint = (env.HF_ENDPOINT?.trim() || 'https://huggingface.co').replace(/\/+$/, '');
  const token = env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim() || undefined;
  return { endpoint, token };
}

/** A failure talking to the Hub, with a message that says what to fix. */
export class HubError extends Error {
  override name = 'HubError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * fetch with `Authorization: Bearer <token>` for requests to the endpoint (redirects to a CDN are
 * followed by fetch, which drops the header across origins). A network failure becomes a HubError
 * naming the endpoint.
 */
export function hubFetch(settings: HubSettings): typeof fetch {
  const origin = new URL(settings.endpoint).origin;
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers);
    if (settings.token && new URL(url).origin === origin) headers.set('authorization', `Bearer ${settings.token}`);
    headers.set('user-agent', 'verdict-pull/0.1');
    try {
      return await fetch(input, { ...init, headers });
    } catch (err) {
      if (init?.signal?.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new HubError(
        `cannot reach ${settings.endpoint} (${why}) while fetching ${url}; check the network, a proxy, or HF_ENDPOINT`,
      );
    }
  };
}

/** Describes an HTTP failure of `what` (e.g. `listing files of org/model@main`) as a HubError. */
export function statusError(status: number, what: string, repo: string, revision: string, settings: HubSettings, detail?: string): HubError {
  const tail = detail ? ` (${detail})` : '';
  if (status === 401 || status === 403) {
    const tokenNote = settings.token
      ? 'HF_TOKEN is set but was refused: check it has read access to this repo'
      : 'no token was sent: set HF_TOKEN to a Hugging Face access token (https://huggingface.co/settings/tokens)';
    return new HubError(
      `${what}: HTTP ${status} from ${settings.endpoint}${tail}. The repo is private or gated, or does not exist; ${tokenNote}. ` +
        `For a gated repo, also accept its terms on the model page (${settings.endpoint}/${repo}).`,
      status,
    );
  }
  if (status === 404) {
    return new HubError(
      `${what}: HTTP 404 from ${settings.endpoint}${tail}: repo ${repo} or revision ${revision} not found; check the name (OWNER/NAME) and the branch, tag or commit after @`,
      status,
    );
  }
  if (status === 429) return new HubError(`${what}: HTTP 429 from ${settings.endpoint}: rate limited; wait and run again (a token raises the limit)`, status);
  return new HubError(`${what}: HTTP ${status} from ${settings.endpoint}${tail}`, status);
}

/** Maps an error from @huggingface/hub (HubApiError) to our HubError; anything else passes through. */
export function fromHubApiError(err: unknown, what: string, repo: string, revision: string, settings: HubSettings): unknown {
  if (err instanceof HubApiError) {
    const data = err.data as { error?: unknown } | undefined;
    const detail = typeof data?.error === 'string' ? data.error : undefined;
    return statusError(err.statusCode, what, repo, revision, settings, detail);
  }
  return err;
}
