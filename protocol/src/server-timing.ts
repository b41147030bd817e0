import { round } from './numbers.ts';

/** `Server-Timing` (W3C): `name;dur=1.2;desc="text", name2;dur=3`. Used by the backend, the gateway and the demo page. */
export interface ServerTimingEntry {
  name: string;
  dur?: number;
  desc?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function formatServerTiming(entries: ServerTimingEntry[]): string {
  return entries
    .map((e) => {
      if (!TOKEN.test(e.name)) throw new Error(`invalid Server-Timing metric name ${JSON.stringify(e.name)}`);
      let s = e.name;
      if (e.dur != null && Number.isFinite(e.dur)) s += `;dur=${round(e.dur)}`;
      if (e.desc != null) s += `;desc=${TOKEN.test(e.desc) ? e.desc : JSON.stringify(e.desc)}`;
      return s;
    })
    .join(', ');
}

export function parseServerTiming(header: string | null | undefined): ServerTimingEntry[] {
  if (!header) return [];
  const out: ServerTimingEntry[] = [];
  for (const part of splitOutsideQuotes(header, ',')) {
    const [rawName, ...params] = splitOutsideQuotes(part, ';').map((s) => s.trim());
    if (!rawName || !TOKEN.test(rawName)) continue;
    const entry: ServerTimingEntry = { name: rawName };
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim().toLowerCase();
      let value = p.slice(eq + 1).trim();
      if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
      if (key === 'dur' && entry.dur === undefined) {
        const n = Number(value);
        if (Number.isFinite(n)) entry.dur = n;
      } else if (key === 'desc' && entry.desc === undefined) entry.desc = value;
    }
    out.push(entry);
  }
  return out;
}

function splitOutsideQuotes(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '"' && s[i - 1] !== '\\') quoted = !quoted;
    if (ch === sep && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.filter((p) => p.trim() !== '');
}
