import type { AppContext } from '../context.ts';
import { handleGeneration } from '../generation/handle.ts';

export const completions = (c: AppContext) => handleGeneration(c, 'completion');
