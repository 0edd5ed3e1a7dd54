import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** functions/ never imports infra/ (the stack, the topology, the local runtime) nor the CDK. */
const NO_INFRA = {
  group: ['**/infra/**', '**/infra', 'aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'],
  message: 'functions/ must not import infra/ or the CDK: pass tunables through the environment (functions/config.ts)',
};

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'cdk.out.*/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // What deploys is a bundle of functions/ alone: a Lambda must never pick up the CDK app, its
    // topology or the local runtime. Tunables reach a function through its environment.
    files: ['functions/**/*.ts'],
    ignores: ['functions/core/**/*.ts', 'functions/handlers/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_INFRA] }] },
  },
  {
    // The shipped CLI talks to a local stack through its endpoints and infra/local-stack-file.ts,
    // never by loading the emulators, the local runtime or the CDK.
    files: ['cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/infra/local/**', 'aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'],
              message:
                'the CLI must not import the local stack or the CDK (what it needs is in infra/local-stack-file.ts)',
            },
          ],
        },
      ],
    },
  },
  {
    // The core is the domain: it must never reach for the AWS SDK (ports only).
    files: ['functions/core/**/*.ts', 'functions/handlers/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@aws-sdk/*'], message: 'core and handlers talk to AWS through adapters only' },
            NO_INFRA,
          ],
        },
      ],
    },
  },
);
