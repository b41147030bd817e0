import type { LoadedBundle } from '../bundle/types.ts';
import type { KvCache } from '../engine/kv-cache.ts';
import { argmax } from '../engine/sampling.ts';
import { DecoderSession } from '../engine/session.ts';

/**
 * Runs the target over prompt + response and returns the hidden state at each response token's
 * own input position ([n, hidden_size], row i = the position whose INPUT is response[i]: what the
 * judge reads for a draft token at serving time).
 *
 * Consecutive calls that extend the same context (as `judge mine` writes records) reuse the KV
 * cache for the shared prefix instead of recomputing it (promptIds must not be empty).
 */
export class TargetHiddenStates {
  private prev: number[] = [];

  private constructor(
    private readonly session: DecoderSession,
    private readonly cache: KvCache,
  ) {}

  static async open(bundle: LoadedBundle): Promise<TargetHiddenStates> {
    const spec = bundle.manifest.target;
    if (!spec.has_hidden_states) throw new Error(`${bundle.targetPath}: the target has no hidden_states output (bundle.json target.has_hidden_states is false)`);
    const session = await DecoderSession.load(bundle.targetPath, spec, bundle.manifest.max_context);
    return new TargetHiddenStates(session, session.newCache());
  }

  get hiddenSize(): number {
    return this.session.spec.hidden_size;
  }

  /**
   * Hidden states at the response tokens' positions ([n, hidden_size]) and, per token, whether it is
   * the target's argmax given what precedes it (the exact rule would accept it).
   */
  async responseStates(promptIds: number[], responseIds: number[]): Promise<{ hidden: Float32Array; targetArgmax: boolean[] }> {
    const ids = [...promptIds, ...responseIds];
    const P = promptIds.length;
    let shared = 0;
    while (shared < this.prev.length && shared < ids.length && this.prev[shared] === ids[shared]) shared++;
    // Start at or before the last prompt token, never AT a response token: the verify forward
    // always has the previous token in it (position 0 = the pending token), and features computed
    // from the previous position within the forward (synth's surprise feature) need it.
    const start = Math.max(0, Math.min(shared, P - 1, this.cache.length));
    this.cache.truncate(start);
    const { hidden, logits } = await this.session.forward(this.cache, ids.slice(start), { hidden: true });
    this.prev = ids;
    const H = this.hiddenSize;
    const V = this.session.spec.vocab_size;
    // The logits at the position before response[i] predict it.
    const targetArgmax = responseIds.map((id, i) => argmax(logits.subarray((P - 1 - start + i) * V, (P - start + i) * V)) === id);
    return { hidden: hidden!.subarray((P - start) * H, (P - start + responseIds.length) * H), targetArgmax };
  }

  async dispose(): Promise<void> {
    this.cache.release();
    await this.session.dispose();
  }
}
