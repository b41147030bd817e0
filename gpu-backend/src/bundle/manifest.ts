import { z } from 'zod';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');
const File = z.object({ file: z.string().min(1), sha256: Sha256 });

/** Shape of one decoder ONNX export (Hugging Face Optimum `text-generation-with-past` I/O). */
export const DecoderSpecSchema = File.extend({
  num_layers: z.number().int().positive(),
  num_kv_heads: z.number().int().positive(),
  head_dim: z.number().int().positive(),
  hidden_size: z.number().int().positive(),
  vocab_size: z.number().int().positive(),
  /** The graph has the extra `hidden_states` output (final-norm output) the judge reads. */
  has_hidden_states: z.boolean().default(false),
  /** The judge head is folded into the graph as a `judge_logits` [B,S] output. */
  has_judge_logits: z.boolean().default(false),
  /** ONNX external-data files the graph reads its weights from (beside it), hashed like the graph. */
  external_data: z.array(File).optional(),
});
export type DecoderSpec = z.infer<typeof DecoderSpecSchema>;

export const BUNDLE_FORMAT = 'verdict-bundle/1';

/** bundle.json: everything needed to serve one draft/target pair. Paths are relative to the bundle directory. */
export const BundleManifestSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  name: z.string().min(1),
  target: DecoderSpecSchema,
  draft: DecoderSpecSchema,
  tokenizer: File,
  judge: File.optional(),
  bos_token_id: z.number().int().min(0).nullable(),
  eos_token_ids: z.array(z.number().int().min(0)).min(1),
  chat_template: z.string().optional(),
  max_context: z.number().int().positive().default(2048),
  /** Free-form provenance of the bundle (synth preset, seed, residual scale, …). */
  meta: z.record(z.string(), z.unknown()).optional(),
});
export type BundleManifest = z.infer<typeof BundleManifestSchema>;
