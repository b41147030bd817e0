import type { LoadedBundle } from '../bundle/types.ts';
import { JudgeDataError, readJudgeRecords } from './data.ts';
import { sha256File } from './files.ts';
import { TargetHiddenStates } from './hidden.ts';
import { tokenizeExample, type TokenizedExample } from './labels.ts';
import { EmbeddingStoreWriter, type StoreManifest } from './store.ts';

export interface CollectOptions {
  /** Rows per shard file. */
  shardRows?: number;
  /** Called once with the totals, then after every record. */
  onProgress?: (p: { records: number; totalRecords: number; rows: number; totalRows: number; skipped: number }) => void;
}

export interface CollectResult {
  manifest: StoreManifest;
  /** Records already in the store from an earlier, interrupted run. */
  resumedFrom: number;
}

/** Tokenizes a record, turning label problems into errors that name the file and line. */
export function examine(bundle: LoadedBundle, file: string, line: number, record: Parameters<typeof tokenizeExample>[0]): TokenizedExample {
  let ex: TokenizedExample;
  try {
    ex = tokenizeExample(record, bundle.tokenizer, bundle.encodePrompt);
  } catch (err) {
    throw new JudgeDataError(file, line, (err as Error).message);
  }
  const V = bundle.manifest.target.vocab_size;
  const bad = [...ex.promptIds, ...ex.responseIds].find((id) => id >= V);
  if (bad !== undefined) throw new JudgeDataError(file, line, `token id ${bad} is outside the target's vocabulary (${V})`);
  const length = ex.promptIds.length + ex.responseIds.length;
  if (length > bundle.manifest.max_context) throw new JudgeDataError(file, line, `${length} tokens exceed the bundle's max_context ${bundle.manifest.max_context}`);
  if (ex.promptIds.length === 0) throw new JudgeDataError(file, line, 'the prompt has no tokens (and the bundle has no BOS)');
  return ex;
}

/**
 * `judge collect`: runs the target over prompt + response of every record and stores the hidden
 * state at each response token's own input position (the position whose INPUT is the token, which
 * is what the judge reads for a draft token at serving time) with the token's label.
 *
 * The whole file is validated first, so bad data fails before anything is written. Records
 * already in the store (an interrupted run) are skipped.
 */
export async function collectEmbeddings(bundle: LoadedBundle, dataFile: string, outDir: string, opts: CollectOptions = {}): Promise<CollectResult> {
  let totalRecords = 0;
  let totalRows = 0;
  for await (const { line, record } of readJudgeRecords(dataFile)) {
    totalRecords++;
    totalRows += examine(bundle, dataFile, line, record).responseIds.length;
  }
  const spec = bundle.manifest.target;
  if (!spec.has_hidden_states) throw new Error(`${bundle.targetPath}: the target has no hidden_states output to collect`);
  const writer = await EmbeddingStoreWriter.open(
    outDir,
    { hiddenSize: spec.hidden_size, targetSha256: spec.sha256, dataSha256: await sha256File(dataFile) },
    opts.shardRows,
  );
  const resumedFrom = writer.recordsDone;
  const target = await TargetHiddenStates.open(bundle);
  const H = spec.hidden_size;
  let index = 0;
  let rows = 0;
  try {
    opts.onProgress?.({ records: 0, totalRecords, rows: 0, totalRows, skipped: resumedFrom });
    for await (const { line, record } of readJudgeRecords(dataFile)) {
      const ex = examine(bundle, dataFile, line, record);
      if (index++ < resumedFrom) {
        rows += ex.responseIds.length;
        continue;
      }
      const { hidden, targetArgmax } = await target.responseStates(ex.promptIds, ex.responseIds);
      for (let i = 0; i < ex.responseIds.length; i++) writer.addRow(hidden.subarray(i * H, (i + 1) * H), ex.labels[i], targetArgmax[i]);
      await writer.endRecord();
      rows += ex.responseIds.length;
      opts.onProgress?.({ records: index, totalRecords, rows, totalRows, skipped: resumedFrom });
    }
    return { manifest: await writer.finish(), resumedFrom };
  } finally {
    await target.dispose();
  }
}
