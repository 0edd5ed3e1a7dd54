import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** functions/ never imports infra/ (the stack, the topology, the local runtime) nor the CDK. */
const NO_INFRA = {
  group: ['**/infra/**', '**/infra', 'aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'],
  message: 'functions/ must not import infra/ or the CDK: pass tunables through the environment (functions/config.ts)',
};

/** The files allowed to import the AWS SDK: the adapters, named for what they talk to. */
const ADAPTER_FILES = [
  'functions/**/dynamo-*.ts',
  'functions/**/sqs-*.ts',
  'functions/**/aws-*.ts',
  'functions/**/eventbridge-*.ts',
];

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
    // Only adapters talk to AWS: a file that imports the SDK says so by its name (dynamo-*, sqs-*,
    // aws-*, eventbridge-*). Use cases, ports and handlers reach AWS through them.
    files: ['functions/**/*.ts'],
    ignores: ADAPTER_FILES,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@aws-sdk/*'],
              message: 'only adapter files (dynamo-*, sqs-*, aws-*, eventbridge-*) import the AWS SDK',
            },
            NO_INFRA,
          ],
        },
      ],
    },
  },
);
