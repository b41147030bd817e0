import type { AppContext } from '../state.ts';
import { handleGeneration } from '../generation/handle.ts';

export const completions = (c: AppContext) => handleGeneration(c, 'completion');
