import { open, readFile, readdir, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic as writeAtomic } from './files.ts';

/**
 * The embedding store that `judge collect` writes and `judge train` reads.
 *
 * A directory holding
 *   store.json           the manifest below (written last, atomically)
 *   shard-NNNNNN.f32     rows of (hidden_size + 3) little-endian float32: the hidden state, the label
 *                        (1 = correct, 0 = wrong), the index of the data record the row came from
 *                        (so held-out splits keep a record's rows together; exact up to 2^24 records),
 *                        and 1 when the token is the target's own argmax there (the exact rule
 *                        accepts it, so the judge's verdict on it never matters), else 0
 *
 * Every shard and every manifest update goes through `<name>.tmp` + rename, and a shard only
 * counts once store.json lists it, so an interrupted run never leaves anything that looks
 * complete. `records_done` counts the data records whose rows are all in listed shards;
 * a resumed collect skips exactly those.
 */
export const STORE_FORMAT = 'verdict-emb/1';
export const STORE_MANIFEST = 'store.json';
/** Floats after the hidden state in each row: label, record index, target-argmax flag. */
const ROW_EXTRA = 3;

export const StoreManifestSchema = z.object({
  format: z.literal(STORE_FORMAT),
  hidden_size: z.number().int().positive(),
  dtype: z.literal('float32-le'),
  target_sha256: z.string(),
  /** sha256 of the data file the rows came from (a resume must read the same file). */
  data_sha256: z.string(),
  records_done: z.number().int().min(0),
  rows: z.number().int().min(0),
  positives: z.number().int().min(0),
  complete: z.boolean(),
  shards: z.array(z.object({ file: z.string(), rows: z.number().int().min(0), positives: z.number().int().min(0) })),
});
export type StoreManifest = z.infer<typeof StoreManifestSchema>;

export async function readStoreManifest(dir: string): Promise<StoreManifest> {
  const path = join(dir, STORE_MANIFEST);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`${dir}: not an embedding store (no ${STORE_MANIFEST}); run \`verdict judge collect\` first`);
  }
  const parsed = StoreManifestSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export interface StoreIdentity {
  hiddenSize: number;
  targetSha256: string;
  dataSha256: string;
}

/** Buffers rows and writes them out in shards at record boundaries. */
export class EmbeddingStoreWriter {
  private buffer: Float32Array;
  private bufferedRows = 0;
  private bufferedPositives = 0;
  private bufferedRecords = 0;

  private constructor(
    readonly dir: string,
    private manifest: StoreManifest,
    private readonly shardRows: number,
  ) {
    this.buffer = new Float32Array(shardRows * (manifest.hidden_size + ROW_EXTRA));
  }

  /**
   * Opens (or resumes) a store. An existing store must have been made from the same target
   * and data file with the same hidden size; otherwise it is refused rather than mixed.
   */
  static async open(dir: string, id: StoreIdentity, shardRows = 4096): Promise<EmbeddingStoreWriter> {
    await mkdir(dir, { recursive: true });
    for (const f of await readdir(dir)) if (f.endsWith('.tmp')) await rm(join(dir, f));
    let manifest: StoreManifest;
    const existing = await readStoreManifest(dir).catch(() => undefined);
    if (existing) {
      const mismatch =
        existing.hidden_size !== id.hiddenSize
          ? `hidden_size ${existing.hidden_size} != ${id.hiddenSize}`
          : existing.target_sha256 !== id.targetSha256
            ? 'it was collected from a different target model'
            : existing.data_sha256 !== id.dataSha256
              ? 'it was collected from a different data file'
              : undefined;
      if (mismatch) throw new Error(`${dir}: cannot resume this embedding store: ${mismatch}; use a new --out directory`);
      manifest = { ...existing, complete: false };
      // Drop shard files a crashed run wrote but never listed.
      const listed = new Set(manifest.shards.map((s) => s.file));
      for (const f of await readdir(dir)) if (f.startsWith('shard-') && !listed.has(f)) await rm(join(dir, f));
    } else {
      manifest = {
        format: STORE_FORMAT,
        hidden_size: id.hiddenSize,
        dtype: 'float32-le',
        target_sha256: id.targetSha256,
        data_sha256: id.dataSha256,
        records_done: 0,
        rows: 0,
        positives: 0,
        complete: false,
        shards: [],
      };
      await writeAtomic(join(dir, STORE_MANIFEST), JSON.stringify(manifest, null, 2));
    }
    return new EmbeddingStoreWriter(dir, manifest, Math.max(1, shardRows));
  }

  get recordsDone(): number {
    return this.manifest.records_done;
  }

  /** Adds one row of the current record: a hidden state, its label, and whether it is the target's argmax. */
  addRow(hidden: Float32Array, label: 0 | 1, targetArgmax: boolean): void {
    const width = this.manifest.hidden_size + ROW_EXTRA;
    if (hidden.length !== this.manifest.hidden_size) {
      throw new Error(`hidden state has ${hidden.length} values, store expects ${this.manifest.hidden_size}`);
    }
    if ((this.bufferedRows + 1) * width > this.buffer.length) {
      const grown = new Float32Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer.set(hidden, this.bufferedRows * width);
    this.buffer[this.bufferedRows * width + this.manifest.hidden_size] = label;
    this.buffer[this.bufferedRows * width + this.manifest.hidden_size + 1] = this.manifest.records_done + this.bufferedRecords;
    this.buffer[this.bufferedRows * width + this.manifest.hidden_size + 2] = targetArgmax ? 1 : 0;
    this.bufferedRows++;
    this.bufferedPositives += label;
  }

  /** Marks the end of one data record's rows; flushes a shard once enough rows are buffered. */
  async endRecord(): Promise<void> {
    this.bufferedRecords++;
    if (this.bufferedRows >= this.shardRows) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.bufferedRecords === 0) return;
    const m = this.manifest;
    if (this.bufferedRows > 0) {
      const file = `shard-${String(m.shards.length).padStart(6, '0')}.f32`;
      const floats = this.buffer.subarray(0, this.bufferedRows * (m.hidden_size + ROW_EXTRA));
      await writeAtomic(join(this.dir, file), new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength));
      m.shards.push({ file, rows: this.bufferedRows, positives: this.bufferedPositives });
      m.rows += this.bufferedRows;
      m.positives += this.bufferedPositives;
    }
    m.records_done += this.bufferedRecords;
    await writeAtomic(join(this.dir, STORE_MANIFEST), JSON.stringify(m, null, 2));
    this.bufferedRows = this.bufferedPositives = this.bufferedRecords = 0;
  }

  /** Flushes what is buffered and marks the store complete. */
  async finish(): Promise<StoreManifest> {
    await this.flush();
    this.manifest.complete = true;
    await writeAtomic(join(this.dir, STORE_MANIFEST), JSON.stringify(this.manifest, null, 2));
    return this.manifest;
  }
}

export interface RowBatch {
  /** Global index of the first row in this batch. */
  start: number;
  count: number;
  /** count × hidden_size features, row-major. */
  features: Float32Array;
  labels: Uint8Array;
  /** Index (0-based, in the data file) of the record each row came from. */
  records: Uint32Array;
  /** 1 where the token is the target's argmax (exact accepts it; the judge only decides the others). */
  argmax: Uint8Array;
}

/** Streams a complete store in batches of at most `batchRows` rows; memory stays O(batchRows). */
export async function* iterateStore(dir: string, manifest: StoreManifest, batchRows = 4096): AsyncGenerator<RowBatch> {
  const h = manifest.hidden_size;
  const width = h + ROW_EXTRA;
  const raw = new Float32Array(batchRows * width);
  const bytes = new Uint8Array(raw.buffer);
  let start = 0;
  for (const shard of manifest.shards) {
    const fh = await open(join(dir, shard.file), 'r');
    try {
      let done = 0;
      while (done < shard.rows) {
        const count = Math.min(batchRows, shard.rows - done);
        const want = count * width * 4;
        const { bytesRead } = await fh.read(bytes, 0, want, done * width * 4);
        if (bytesRead !== want) throw new Error(`${join(dir, shard.file)}: truncated (expected ${shard.rows} rows)`);
        const features = new Float32Array(count * h);
        const labels = new Uint8Array(count);
        const records = new Uint32Array(count);
        const argmax = new Uint8Array(count);
        for (let r = 0; r < count; r++) {
          features.set(raw.subarray(r * width, r * width + h), r * h);
          labels[r] = raw[r * width + h] >= 0.5 ? 1 : 0;
          records[r] = raw[r * width + h + 1];
          argmax[r] = raw[r * width + h + 2] >= 0.5 ? 1 : 0;
        }
        yield { start, count, features, labels, records, argmax };
        start += count;
        done += count;
      }
    } finally {
      await fh.close();
    }
  }
}
