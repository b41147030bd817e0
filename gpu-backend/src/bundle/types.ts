import type { BundleManifest } from './manifest.ts';
import type { JudgeHead } from './judge-head.ts';
import type { RenderOptions } from './chat-template.ts';

/** Text <-> token ids, backed by the bundle's Hugging Face tokenizer.json. */
export interface TextTokenizer {
  readonly vocabSize: number;
  /** Never adds special tokens; callers prepend BOS themselves. */
  encode(text: string): number[];
  decode(ids: number[]): string;
}

export interface ChatMessage {
  role: string;
  content: string;
}

/** A bundle that passed every check: files present, hashes match, vocabularies agree, judge width fits. */
export interface LoadedBundle {
  dir: string;
  manifest: BundleManifest;
  targetPath: string;
  draftPath: string;
  tokenizer: TextTokenizer;
  judge?: JudgeHead;
  /** The chat template (bundle's, else the documented default); add_generation_prompt defaults to true. */
  renderChat(messages: ChatMessage[], opts?: RenderOptions): string;
  /** Prompt text -> ids, with BOS prepended when the bundle has one. */
  encodePrompt(text: string): number[];
}
