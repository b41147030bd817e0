/**
 * The protocol for the browser (the demo page): the vocabulary, the SSE parser and the
 * Server-Timing parser, plus the response types. No zod, so nothing of the validation schemas
 * reaches the page's bundle (test/demo/bundle.test.ts checks).
 */
export * from './vocabulary.ts';
export * from './sse.ts';
export * from './server-timing.ts';
export type { ChatCompletion, ChatCompletionChunk, TextCompletion, TextCompletionChunk, Timings, Usage } from './responses.ts';
