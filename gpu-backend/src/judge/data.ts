import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { z } from 'zod';

/**
 * One labelled example (one line of a judge JSONL file).
 *
 * Labels come either as `first_error` (TokenCourt semantics: a character index into `response`;
 * everything before it is correct, the token containing it and every later token are wrong),
 * or as explicit per-token `labels` (1 = correct, 0 = wrong) over the response's tokens.
 * A record with neither is fully correct.
 *
 * `prompt_ids` / `response_ids` (written by `judge mine`) pin the exact token ids, since
 * re-encoding decoded text does not always give back the same ids.
 */
export const JudgeRecordSchema = z
  .object({
    prompt: z.string(),
    response: z.string(),
    first_error: z.number().int().min(0).optional(),
    labels: z.array(z.union([z.literal(0), z.literal(1)])).optional(),
    prompt_ids: z.array(z.number().int().min(0)).optional(),
    response_ids: z.array(z.number().int().min(0)).optional(),
  })
  .passthrough()
  .refine((r) => !(r.first_error !== undefined && r.labels !== undefined), {
    message: 'give either first_error or labels, not both',
  })
  .refine((r) => r.first_error === undefined || r.first_error < r.response.length, {
    message: 'first_error is past the end of response',
    path: ['first_error'],
  });
export type JudgeRecord = z.infer<typeof JudgeRecordSchema>;

export class JudgeDataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
    this.name = 'JudgeDataError';
  }
}

export interface NumberedRecord {
  /** 1-based line number in the file. */
  line: number;
  record: JudgeRecord;
}

/** Parses one JSONL line; throws JudgeDataError naming the file, line and field. */
export function parseRecordLine(file: string, line: number, text: string): JudgeRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new JudgeDataError(file, line, `malformed JSON (${(err as Error).message})`);
  }
  const parsed = JudgeRecordSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.length ? i.path.join('.') : 'record'}: ${i.message}`)
      .join('; ');
    throw new JudgeDataError(file, line, issues);
  }
  return parsed.data;
}

/**
 * Streams the records of a JSONL file one at a time (blank lines skipped).
 * An empty file (no records at all) is an error, reported at line 1.
 */
export async function* readJudgeRecords(file: string): AsyncGenerator<NumberedRecord> {
  await stat(file).catch(() => {
    throw new Error(`${file}: no such data file`);
  });
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  let count = 0;
  for await (const text of lines) {
    lineNo++;
    if (text.trim() === '') continue;
    count++;
    yield { line: lineNo, record: parseRecordLine(file, lineNo, text) };
  }
  if (count === 0) throw new JudgeDataError(file, Math.max(lineNo, 1), 'empty data file: no records');
}

/** Reads the whole file once to check every line (used before writing any output). */
export async function countJudgeRecords(file: string): Promise<number> {
  let n = 0;
  for await (const _ of readJudgeRecords(file)) n++;
  return n;
}
