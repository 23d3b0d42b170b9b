// Worker threads do not inherit the tsx loader of `npm start`: register it here, then
// load the TypeScript entry of a DSP thread (jobs/dsp-pool.ts starts it).
import { register } from 'tsx/esm/api';

register();
await import('./dsp-thread.ts');
