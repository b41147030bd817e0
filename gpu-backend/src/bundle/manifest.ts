import * as z from '@verdict/protocol/zod';

const Sha256 = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256'));
const File = z.object({ file: z.string().check(z.minLength(1)), sha256: Sha256 });
const Positive = z.number().check(z.int(), z.positive());
const NonNegative = z.number().check(z.int(), z.gte(0));

/** Shape of one decoder ONNX export (Hugging Face Optimum `text-generation-with-past` I/O). */
export const DecoderSpecSchema = z.extend(File, {
  num_layers: Positive,
  num_kv_heads: Positive,
  head_dim: Positive,
  hidden_size: Positive,
  vocab_size: Positive,
  /** The graph has the extra `hidden_states` output (final-norm output) the judge reads. */
  has_hidden_states: z._default(z.boolean(), false),
  /** The judge head is folded into the graph as a `judge_logits` [B,S] output. */
  has_judge_logits: z._default(z.boolean(), false),
  /** ONNX external-data files the graph reads its weights from (beside it), hashed like the graph. */
  external_data: z.optional(z.array(File)),
});
export type DecoderSpec = z.infer<typeof DecoderSpecSchema>;

/** The special-token names a chat template sees: those transformers.js spreads into its render context. */
export const SPECIAL_TOKEN_NAMES = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
export type SpecialTokenName = (typeof SPECIAL_TOKEN_NAMES)[number];

export const BUNDLE_FORMAT = 'verdict-bundle/1';

/** bundle.json: everything needed to serve one draft/target pair. Paths are relative to the bundle directory. */
export const BundleManifestSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  name: z.string().check(z.minLength(1)),
  target: DecoderSpecSchema,
  draft: DecoderSpecSchema,
  tokenizer: File,
  judge: z.optional(File),
  bos_token_id: z.nullable(NonNegative),
  eos_token_ids: z.array(NonNegative).check(z.minLength(1)),
  chat_template: z.optional(z.string()),
  /**
   * The special tokens the chat template sees (text, e.g. `{ bos_token: '<bos>', pad_token: '<pad>' }`),
   * as in the model's tokenizer_config.json. When absent, bos_token/eos_token are the text of
   * `bos_token_id` / `eos_token_ids[0]`; when present, it is the whole map (a token left out is undefined).
   */
  special_tokens: z.optional(z.partialRecord(z.enum(SPECIAL_TOKEN_NAMES), z.string().check(z.minLength(1)))),
  max_context: z._default(Positive, 2048),
  /** Free-form provenance of the bundle (synth preset, seed, residual scale, …). */
  meta: z.optional(z.record(z.string(), z.unknown())),
});
export type BundleManifest = z.infer<typeof BundleManifestSchema>;
