/**
 * Which files of a Hugging Face model repo `verdict pull` fetches: the configs and tokenizer that
 * `verdict import` reads, and one ONNX decoder (plus its external data) in the Optimum /
 * transformers.js layout, chosen by dtype. Pure functions over the Hub's tree listing.
 */

import { DTYPE_FILES, DTYPES, type Dtype } from '../import/dtypes.ts';

export { DTYPE_FILES, DTYPES, isDtype, type Dtype } from '../import/dtypes.ts';

/** Folders searched for the decoder: the transformers.js layout first, then a plain `optimum-cli` export at the root. */
const ONNX_DIRS = ['onnx/', ''] as const;

export const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;
export const OPTIONAL_FILES = ['generation_config.json', 'special_tokens_map.json', 'chat_template.jinja'] as const;

/** One file of the repo as the tree listing describes it. */
export interface RepoFile {
  path: string;
  size: number;
  /** Git blob sha1 of the file (for an LFS file: of its pointer). */
  oid?: string;
  /** sha256 and size of the content of an LFS (or Xet-backed) file. */
  lfs?: { oid: string; size: number };
}

export const EXPORT_HINT =
  'export one with `optimum-cli export onnx --model REPO --task text-generation-with-past DIR` ' +
  '(decoder at DIR/model.onnx; move it to DIR/onnx/ for the transformers.js layout)';

export class PullPlanError extends Error {
  override name = 'PullPlanError';
}

/** The dtypes whose decoder file exists in the listing (in DTYPES order). */
export function presentDtypes(files: readonly RepoFile[]): Dtype[] {
  const paths = new Set(files.map((f) => f.path));
  return DTYPES.filter((d) => findDecoder(paths, d) !== undefined);
}

function findDecoder(paths: ReadonlySet<string>, dtype: Dtype): string | undefined {
  for (const dir of ONNX_DIRS) {
    for (const name of DTYPE_FILES[dtype]) if (paths.has(dir + name)) return dir + name;
  }
  return undefined;
}

/** `model.onnx` → `model.onnx_data`, `model.onnx_data_1`, … (files next to it whose names start with `<model>_data`). */
export function externalDataFiles(files: readonly RepoFile[], decoderPath: string): RepoFile[] {
  const prefix = `${decoderPath}_data`;
  const dir = decoderPath.slice(0, decoderPath.lastIndexOf('/') + 1);
  return files
    .filter((f) => f.path.startsWith(prefix) && !f.path.slice(dir.length).includes('/'))
    .sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}

export interface PullPlan {
  dtype: Dtype;
  decoder: string;
  /** Every file to fetch: configs and tokenizer first, then the decoder and its external data. */
  files: RepoFile[];
  /** Optional files the repo does not have (for the log). */
  missingOptional: string[];
}

/** Picks the files to pull for `dtype`, or throws a PullPlanError that says what is missing and what to do. */
export function planPull(files: readonly RepoFile[], dtype: Dtype, repoLabel: string): PullPlan {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const paths = new Set(byPath.keys());
  const present = presentDtypes(files);
  if (present.length === 0) {
    throw new PullPlanError(
      `${repoLabel} has no ONNX decoder (looked for onnx/${Object.values(DTYPE_FILES).flat().join(', onnx/')} and the same names at the root); ` +
        `${EXPORT_HINT.replace('REPO', repoLabel.split('@')[0])}, then point \`verdict import\` at DIR`,
    );
  }
  const decoder = findDecoder(paths, dtype);
  if (!decoder) {
    throw new PullPlanError(
      `${repoLabel} has no ${dtype} decoder (${DTYPE_FILES[dtype].map((n) => `onnx/${n}`).join(' or ')}); ` +
        `dtypes present: ${present.join(', ')} (pass --dtype ${present[0]})`,
    );
  }
  const missing = REQUIRED_FILES.filter((p) => !byPath.has(p));
  if (missing.length > 0) {
    throw new PullPlanError(`${repoLabel} lacks ${missing.join(', ')}, which \`verdict import\` needs`);
  }
  const picked: RepoFile[] = [];
  const missingOptional: string[] = [];
  for (const p of [...REQUIRED_FILES, ...OPTIONAL_FILES]) {
    const f = byPath.get(p);
    if (f) picked.push(f);
    else missingOptional.push(p);
  }
  picked.push(byPath.get(decoder)!, ...externalDataFiles(files, decoder));
  return { dtype, decoder, files: picked, missingOptional };
}
