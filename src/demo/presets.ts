/**
 * The demo's preset prompts. Pure data: the page shows them, and the gateway may import them to recognise
 * preset traffic on the public demo route. Their temperature-0 answers are shared through the edge cache, so
 * a preset's request must be byte-for-byte the same for every visitor: change a prompt and the cache misses once.
 */
export interface DemoPreset {
  id: string;
  title: string;
  prompt: string;
}

export const DEMO_PRESETS: readonly DemoPreset[] = [
  { id: 'story', title: 'A short story', prompt: 'Write a short story about a lighthouse keeper who finds a message in a bottle.' },
  { id: 'explain', title: 'Explain speculative decoding', prompt: 'Explain speculative decoding to a new engineer in a few sentences.' },
  { id: 'list', title: 'A packing list', prompt: 'Make a packing list for a three-day hiking trip.' },
  { id: 'code', title: 'Reverse a string', prompt: 'Write a TypeScript function that reverses a string.' },
];

/**
 * The most tokens a demo asks for, and the gateway's cap on every public route (config.ts; a DEMO_MAX_TOKENS var
 * overrides the cap): the one place this number is set.
 */
export const DEMO_MAX_TOKENS = 128;

export function findPreset(id: string): DemoPreset | undefined {
  return DEMO_PRESETS.find((p) => p.id === id);
}
