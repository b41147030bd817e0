import type { ChatCompletionChunk, ChatLogprobs, FinishReason, Mode, Provenance, RequestKind, TextCompletionChunk, TextLogprobs, Timings, Usage } from '@verdict/protocol';
import type { FinishReason as EngineFinish } from '../engine/types.ts';

type Chunk = ChatCompletionChunk | TextCompletionChunk;

/** The engine's `cancelled` never reaches a client that is still listening; map it defensively. */
export const finishReason = (f: EngineFinish): FinishReason => (f === 'length' ? 'length' : 'stop');

/** Builds the OpenAI stream chunks of one response (chat or text completion). */
export class ChunkWriter {
  constructor(
    private readonly kind: RequestKind,
    private readonly id: string,
    private readonly created: number,
    private readonly model: string,
    /** With stream_options.include_usage, OpenAI sends `usage: null` on every chunk but the last. */
    private readonly includeUsage: boolean,
    /** `system_fingerprint` of every chunk. */
    private readonly fingerprint: string,
    /** Named in every chunk's `x_verdict.mode`. */
    private readonly mode: Mode,
  ) {}

  private chunk(content: string | undefined, finish: FinishReason | null, role = false, logprobs: ChatLogprobs | TextLogprobs | null = null): Chunk {
    const base = { id: this.id, created: this.created, model: this.model, system_fingerprint: this.fingerprint, ...(this.includeUsage ? { usage: null } : {}), x_verdict: { mode: this.mode } };
    if (this.kind === 'chat') {
      const delta: { role?: 'assistant'; content?: string } = {};
      if (role) delta.role = 'assistant';
      if (content != null) delta.content = content;
      return { ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish, logprobs: logprobs as ChatLogprobs | null }] };
    }
    return { ...base, object: 'text_completion', choices: [{ index: 0, text: content ?? '', finish_reason: finish, logprobs: logprobs as TextLogprobs | null }] };
  }

  /** Chat streams open with the assistant role and empty content, as OpenAI's do. Text streams have no opener. */
  opener(): Chunk | null {
    return this.kind === 'chat' ? this.chunk('', null, true) : null;
  }

  /** Completions with echo: the prompt (and its tokens' logprobs, when asked) before the first step. */
  echo(prompt: string, logprobs: TextLogprobs | null): Chunk {
    return this.chunk(prompt, null, false, logprobs);
  }

  /** `pieces`: each token's text (joins to `text`), for clients that colour text per token. `logprobs`: this step's tokens'. */
  step(text: string, provenance: Provenance[], step: number, pieces?: string[], logprobs: ChatLogprobs | TextLogprobs | null = null): Chunk {
    return { ...this.chunk(text, null, false, logprobs), x_verdict: { mode: this.mode, provenance, step, ...(pieces ? { pieces } : {}) } };
  }

  /** The closing chunks: the finish reason, then (when asked) a usage chunk; the last one carries `timings`. */
  closing(finish: FinishReason, usage: Usage, timings: Timings): Chunk[] {
    const end = this.chunk(this.kind === 'chat' ? undefined : '', finish);
    if (!this.includeUsage) return [{ ...end, timings }];
    const usageChunk = { ...this.chunk(undefined, null), choices: [], usage, timings } as Chunk;
    return [end, usageChunk];
  }
}
