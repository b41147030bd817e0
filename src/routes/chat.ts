import type { AppContext } from '../state.ts';
import { handleGeneration } from '../generation/handle.ts';

export const chatCompletions = (c: AppContext) => handleGeneration(c, 'chat');
