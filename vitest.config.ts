import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    env: {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      CDK_DISABLE_VERSION_CHECK: '1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: ['test/iam/**'],
          // Synthesizes the cloud assembly the local stack runs, once, before any test file.
          globalSetup: ['test/helpers/global-setup.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // After every other test: it judges the AWS calls the end-to-end run recorded.
        extends: true,
        test: { name: 'iam', include: ['test/iam/**/*.test.ts'], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
