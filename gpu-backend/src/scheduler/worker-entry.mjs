// Worker threads do not inherit tsx from the parent, so register it here before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
