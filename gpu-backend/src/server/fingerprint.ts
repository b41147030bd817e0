import { createHash } from 'node:crypto';
import { DEFAULTS, type Mode } from '@verdict/protocol';
import { DEFAULT_CHAT_TEMPLATE } from '../bundle/chat-template.ts';
import type { LoadedBundle } from '../bundle/types.ts';
import type { ServeConfig } from './config.ts';
import { defaultMode } from './resolve.ts';

/**
 * The fingerprint `GET /v1/models` publishes as `x_verdict.fingerprint`, which the gateway puts in every
 * cache key: a sha256 over everything that shapes an answer to a given request — the target, draft,
 * tokenizer and judge-head sha256s, the effective chat template and the special tokens it renders, the
 * context length (it caps max_tokens), and the server's decoding defaults that apply when a request leaves
 * a field out (mode, k, judge threshold, KL settings, temperature, max tokens). Any one of them changing
 * changes the fingerprint, so a deploy never replays answers another build produced. Settings that do not
 * change answers (port, workers, queue, timeouts, logging) are left out, so scaling a backend keeps its cache.
 */
export function answerFingerprint(bundle: LoadedBundle, config: ServeConfig, modes: readonly Mode[]): string {
  const m = bundle.manifest;
  const parts = {
    format: 'verdict-answer-fingerprint/1',
    model: m.name,
    target_sha256: m.target.sha256,
    draft_sha256: m.draft.sha256,
    tokenizer_sha256: m.tokenizer.sha256,
    judge_sha256: m.judge?.sha256 ?? null,
    chat_template: m.chat_template ?? DEFAULT_CHAT_TEMPLATE,
    bos_token_id: m.bos_token_id,
    eos_token_ids: m.eos_token_ids,
    max_context: m.max_context,
    defaults: {
      mode: defaultMode(modes, config),
      k: config.defaultK,
      threshold: config.defaultThreshold ?? bundle.judge?.threshold ?? null,
      kl_threshold: config.defaultKlThreshold,
      kl_confidence: config.defaultKlConfidence,
      temperature: config.defaultTemperature,
      max_tokens: config.defaultMaxTokens,
      top_p: DEFAULTS.top_p,
      top_k: DEFAULTS.top_k,
    },
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}
