import type { AppContext } from '../context.ts';
import { handleGeneration } from '../generation/handle.ts';

export const chatCompletions = (c: AppContext) => handleGeneration(c, 'chat');
