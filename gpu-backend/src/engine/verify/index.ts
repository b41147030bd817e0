import type { Mode } from '@verdict/protocol';
import { entropy } from './entropy.ts';
import { exact } from './exact.ts';
import { judge } from './judge.ts';
import { kl } from './kl.ts';
import type { VerifyRule } from './types.ts';

export type { VerifyInput, Verdict, VerifyRule } from './types.ts';

/** The speculative modes and their rules. `target` is plain decoding and has no rule. Add a rule here. */
export const RULES: Record<Exclude<Mode, 'target'>, VerifyRule> = { exact, judge, kl, entropy };
