/**
 * The fixed prompt set every mode and K decodes. Plain text: the synthetic bundles' byte-level BPE
 * encodes anything, and real bundles read it as ordinary requests. Varied lengths on purpose.
 */
export const BENCH_PROMPTS: readonly string[] = [
  'The quick brown fox jumps over the lazy dog.',
  'Once upon a time, in a kingdom by the sea, there lived',
  'Explain, step by step, why the sky looks blue at noon and red at sunset.',
  'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
  'A judge head reads the target model hidden state and decides',
  'List three reasons speculative decoding is faster on memory-bound hardware:',
  'In 1969 the first humans walked on the Moon. The mission',
  'Translate to French: The weather is nice today and we are going to the park.',
];
