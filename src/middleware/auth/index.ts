import { ApiError } from '@verdict/protocol';
import type { MiddlewareHandler } from 'hono';
import { sha256Hex } from '../../shared/sha256.ts';
import type { AppEnv, Principal } from '../../context.ts';

const unauthorized = (message: string, code: string) =>
  new ApiError(401, message, 'authentication_error', null, code, { 'www-authenticate': 'Bearer realm="verdict"' });

function clientIp(headers: Headers): string {
  return headers.get('cf-connecting-ip') ?? headers.get('x-real-ip') ?? 'unknown';
}

/** Looks a key up by its SHA-256: first the API_KEY_HASHES secret, then the API_KEYS KV namespace. */
async function lookUpKey(c: Parameters<MiddlewareHandler<AppEnv>>[0], keyHash: string): Promise<Principal | null> {
  if (c.var.config.apiKeyHashes.has(keyHash)) return { kind: 'key', keyHash };
  const kv = c.env.API_KEYS;
  if (!kv) return null;
  const meta = await kv.get<{ name?: string; disabled?: boolean }>(keyHash, { type: 'json', cacheTtl: 60 });
  if (!meta || meta.disabled) return null;
  return { kind: 'key', keyHash, name: meta.name };
}

/**
 * `Authorization: Bearer <key>`, compared by SHA-256 only (plain keys are never stored). Public demo routes
 * admit anonymous callers; a key sent there is still checked. Sets the principal and the cache scope.
 */
export function auth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const isPublic = c.var.config.publicRoutes.has(c.req.path);
    c.set('isPublic', isPublic);
    const header = c.req.header('authorization');
    if (!header) {
      if (!isPublic) throw unauthorized("You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", 'missing_api_key');
      c.set('principal', { kind: 'anonymous', ip: clientIp(c.req.raw.headers) });
      c.set('scope', 'public');
      return next();
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw unauthorized("Malformed Authorization header; expected 'Bearer <key>'.", 'invalid_authorization_header');
    const keyHash = await sha256Hex(m[1]);
    const principal = await lookUpKey(c, keyHash);
    if (!principal) throw unauthorized('Incorrect API key provided.', 'invalid_api_key');
    c.set('principal', principal);
    c.set('scope', isPublic ? 'public' : `key:${keyHash}`);
    return next();
  };
}
