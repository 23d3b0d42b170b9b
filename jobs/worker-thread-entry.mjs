// Worker threads do not inherit the tsx loader of `npm start`: register it here, then
// load the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import('./worker-thread.ts');
