// Preloaded into Portkey's gateway (`node --import`) on Node < 22 only: Node 20's fetch returns Responses whose
// headers are immutable, and Portkey appends to them ("TypeError: immutable"). Re-wrapping each fetched Response
// (same body stream, status and headers, no copy of the body) lets it run; Node 22+ needs nothing.
const original = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const res = await original(...args);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
};
