#!/usr/bin/env node
// The `hookrelay` executable: registers tsx's ESM loader, then runs the TypeScript CLI as is, so
// there is no build step (tsx is a dependency of the repo's tooling; `npm ci` installs it).
import process from 'node:process';
import { register } from 'tsx/esm/api';

// The SDK's notice that its 2027 releases will need Node 22 concerns the project's engines field,
// not an operator's command: without this, it buries every one-line error under eight lines.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../cli/hookrelay.ts');
process.exitCode = await main(process.argv.slice(2));
