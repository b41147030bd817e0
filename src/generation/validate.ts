import { ApiError, ChatCompletionRequestSchema, CompletionRequestSchema, fromZodError, requestedMaxTokens, type ChatCompletionRequest, type CompletionRequest } from '@verdict/protocol';
import type { RequestKind } from '@verdict/protocol';

export type GenerationRequest = ChatCompletionRequest | CompletionRequest;

/** Validate: the body (already read within MAX_BODY_BYTES) parsed with the shared protocol; a bad one never reaches a backend. */
export function parseGenerationRequest(kind: RequestKind, body: Uint8Array): GenerationRequest {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new ApiError(400, 'The request body is not valid JSON', 'invalid_request_error', null, 'invalid_json');
  }
  const parsed = (kind === 'chat' ? ChatCompletionRequestSchema : CompletionRequestSchema).safeParse(json);
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

/** Public (demo) routes admit anonymous traffic: its generation length is bounded whatever the page (or a script) asks. */
export function capDemoTokens(req: GenerationRequest, cap: number): void {
  req.max_tokens = Math.min(requestedMaxTokens(req) ?? cap, cap);
  if ('max_completion_tokens' in req) delete req.max_completion_tokens;
}
