/**
 * Headers for every SSE response: nothing may hold the stream back. `Content-Encoding: identity` keeps
 * Cloudflare from compressing it (a compressed stream sits in the encoder), `no-cache` keeps proxies from
 * buffering or storing it.
 */
export const SSE_HEADERS: Record<string, string> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'content-encoding': 'identity',
  'x-accel-buffering': 'no',
};
