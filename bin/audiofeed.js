#!/usr/bin/env node
// Launcher for the TypeScript CLI: registers tsx's loader (with the project's tsconfig,
// found from this file so any working directory works), then runs cli/main.ts.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
