import { readFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';

type Json = Record<string, unknown>;

/** The parts of a tokenizer.json that decide which ids a text becomes and which text ids become. */
const FIELDS = ['model', 'added_tokens', 'normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const;

/**
 * Speculation compares the draft's and the target's token ids, so both must tokenize identically.
 * Refuses, naming the first field that differs (and, for the vocabulary, the first token).
 */
export async function checkSameTokenizer(targetPath: string, draftPath: string): Promise<Json> {
  const [a, b] = await Promise.all([targetPath, draftPath].map(async (p) => {
    try {
      return JSON.parse(await readFile(p, 'utf8')) as Json;
    } catch (err) {
      throw new Error(`${p}: not a readable tokenizer.json (${(err as Error).message})`);
    }
  }));
  for (const field of FIELDS) {
    if (isDeepStrictEqual(a[field], b[field])) continue;
    let detail = '';
    if (field === 'model') detail = vocabDifference(a.model as Json, b.model as Json);
    throw new Error(`${draftPath}: the draft's tokenizer differs from the target's (${targetPath}) in "${field}"${detail}; speculative decoding needs one shared tokenizer`);
  }
  return a;
}

function vocabDifference(a: Json | undefined, b: Json | undefined): string {
  const va = (a?.vocab ?? {}) as Record<string, number>;
  const vb = (b?.vocab ?? {}) as Record<string, number>;
  const ka = Object.keys(va);
  if (ka.length !== Object.keys(vb).length) return ` (vocabularies of ${ka.length} and ${Object.keys(vb).length} tokens)`;
  const tok = ka.find((k) => va[k] !== vb[k]);
  if (tok !== undefined) return ` (token ${JSON.stringify(tok)} is id ${va[tok]} in the target, ${vb[tok] ?? 'absent'} in the draft)`;
  return a?.type !== b?.type ? ` (model type ${String(a?.type)} vs ${String(b?.type)})` : ' (merges or model settings)';
}

/** Whether the tokenizer's post-processor puts `bosText` before every sequence (Llama 3's TemplateProcessing does). */
export function postProcessorAddsBos(tokenizer: Json, bosText: string | undefined): boolean {
  if (!bosText) return false;
  const visit = (p: unknown): boolean => {
    if (!p || typeof p !== 'object') return false;
    const pp = p as Json;
    if (pp.type === 'Sequence') return ((pp.processors ?? []) as unknown[]).some(visit);
    if (pp.type !== 'TemplateProcessing') return false;
    const first = ((pp.single ?? []) as Json[])[0];
    return (first?.SpecialToken as Json | undefined)?.id === bosText;
  };
  return visit(tokenizer.post_processor);
}
