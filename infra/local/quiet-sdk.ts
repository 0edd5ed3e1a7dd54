/**
 * Imported first by `npm start` (main.ts): the AWS SDK's notice that its 2027 releases need
 * Node.js 22 concerns the project's supported versions (README), not a person starting the local
 * stack, and each function's worker would print it again (five times in all). The bench and the
 * CLI (bin/hookrelay.mjs) silence it the same way; a value the user set wins.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export {};
