import type { JudgeHead } from '../bundle/judge-head.ts';
import type { LoadedBundle } from '../bundle/types.ts';
import { DEFAULT_PREFILL_CHUNK } from '../engine/prefill.ts';
import type { DecodeModels } from '../engine/request.ts';
import type { JudgeSource } from '../engine/score.ts';
import { loadDecoderPair, type SessionOptions } from '../engine/session.ts';

/**
 * The bundle's draft and target as the engine's DecodeModels, for the judge tools that drive the
 * engine's pieces (propose, score, RequestState) step by step. `head` selects the judge scores.
 */
export async function loadDecodeModels(
  bundle: LoadedBundle,
  head?: Pick<JudgeHead, 'weights' | 'bias' | 'threshold'>,
  opts: SessionOptions = {},
): Promise<DecodeModels & { dispose(): Promise<void> }> {
  const { manifest } = bundle;
  if (!manifest.target.has_hidden_states) {
    throw new Error(`${bundle.targetPath}: the target has no hidden_states output (bundle.json target.has_hidden_states is false); the judge reads it`);
  }
  const { target, draft } = await loadDecoderPair(bundle, opts);
  const judge: JudgeSource = head ? { kind: 'hidden', head: { weights: Float32Array.from(head.weights), bias: head.bias } } : { kind: 'none' };
  return {
    target,
    draft,
    tokenizer: bundle.tokenizer,
    eos: new Set(manifest.eos_token_ids),
    judge,
    judgeThreshold: head?.threshold ?? 0.5,
    maxContext: manifest.max_context,
    prefillChunk: DEFAULT_PREFILL_CHUNK,
    async dispose() {
      await target.dispose();
      await draft.dispose();
    },
  };
}
