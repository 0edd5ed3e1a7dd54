#!/usr/bin/env node
// The `hookrelay` executable: registers tsx's ESM loader, then runs the TypeScript CLI as is, so
// there is no build step (tsx is a dependency of the repo's tooling; `npm ci` installs it).
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/hookrelay.ts');
process.exitCode = await main(process.argv.slice(2));
