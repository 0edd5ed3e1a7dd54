/**
 * The composition root: a container is built from the environment it is given, holds its own
 * configuration and clients, and closes what it opened; nothing is shared through module state.
 */
import { describe, expect, it, vi } from 'vitest';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { ConfigError, ENV } from '../../functions/config';
import { createContainer, lazyContainer } from '../../functions/container';
import { createApiHandler } from '../../functions/handlers/api';
import { flowGate } from '../../functions/wiring';
import { lambdaContext } from '../../infra/local/lambda';
import { aFunctionEnvironment } from '../helpers/fixtures';

const DEPLOYMENT = aFunctionEnvironment();

const portalPage = { rawPath: '/portal', headers: {}, requestContext: { http: { method: 'GET' } } } as never;

describe('a container', () => {
  it('reads the environment it is given, not the process’s, and names every bad variable at once', () => {
    expect(process.env[ENV.tableName]).toBeUndefined();
    expect(createContainer(DEPLOYMENT).cfg.tableName).toBe('hookrelay');

    const bad = { ...DEPLOYMENT, [ENV.tableName]: undefined, [ENV.leaseS]: 'soon', [ENV.retryJitter]: '2' };
    const err = (() => {
      try {
        createContainer(bad);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.split(' ')[0]).sort()).toEqual(
      [ENV.leaseS, ENV.retryJitter, ENV.tableName].sort(),
    );
  });

  it('holds its own configuration and clients: a handler over each answers from its own', async () => {
    const a = createContainer({ ...DEPLOYMENT, [ENV.portalFrameAncestors]: 'https://a.example.com' });
    const b = createContainer({ ...DEPLOYMENT, [ENV.portalFrameAncestors]: 'https://b.example.com' });
    expect(a.aws.dynamo).not.toBe(b.aws.dynamo);
    expect(a.stores.apps).not.toBe(b.stores.apps);
    const csp = async (handler: ReturnType<typeof createApiHandler>) => {
      const res = (await handler(portalPage, lambdaContext('api', Date.now() + 5000))) as Exclude<
        APIGatewayProxyResultV2,
        string
      >;
      return String(res.headers?.['content-security-policy']);
    };
    expect(await csp(createApiHandler(() => a))).toContain('frame-ancestors https://a.example.com');
    expect(await csp(createApiHandler(() => b))).toContain('frame-ancestors https://b.example.com');
    await Promise.all([a.close(), b.close()]);
  });

  it('closes what its services opened, once, then destroys its clients', async () => {
    const container = createContainer(DEPLOYMENT);
    const opened = vi.fn();
    const destroy = vi.spyOn(container.aws, 'destroy');
    container.onClose(opened);
    await container.close();
    expect(opened).toHaveBeenCalledTimes(1);
    expect(destroy).toHaveBeenCalledTimes(1);
    expect(opened.mock.invocationCallOrder[0]).toBeLessThan(destroy.mock.invocationCallOrder[0]!);
    await container.close();
    expect(opened).toHaveBeenCalledTimes(1);
  });

  it('built lazily: nothing until first asked, then the same one until closed', async () => {
    const env = vi.fn(() => DEPLOYMENT);
    const lazy = lazyContainer(env);
    expect(env).not.toHaveBeenCalled();
    const first = lazy.get();
    expect(lazy.get()).toBe(first);
    expect(env).toHaveBeenCalledTimes(1);
    await lazy.close();
    expect(lazy.get()).not.toBe(first);
    await lazy.close();
  });
});

describe("the delivery function's flow gate", () => {
  it('shares a rate out by the concurrencies the configuration names, per lane', () => {
    const cfg = createContainer(
      aFunctionEnvironment({ [ENV.isolatedConcurrency]: '4', [ENV.orderedConcurrency]: '5' }),
    ).cfg;
    const { gate } = flowGate(cfg);
    const t0 = Date.parse('2026-12-05T00:00:00.000Z');
    const endpoint = { id: 'ep_1', appId: 'app_1', rateLimit: { perSecond: 20 } };
    // Isolation lane: 20/s over 4 containers, 5/s here: the second waits 200 ms.
    expect(gate.admit(endpoint, 'isolated', t0)).toEqual({ go: true });
    const isolated = gate.admit(endpoint, 'isolated', t0);
    expect(isolated.go ? 0 : isolated.waitMs).toBe(200);
    // Ordered lane: 20/s over 5 containers, 4/s here: the second head sleeps 250 ms for its token.
    const other = { ...endpoint, id: 'ep_2' };
    expect(gate.admit(other, 'ordered', t0)).toEqual({ go: true });
    expect(gate.admit(other, 'ordered', t0)).toEqual({ go: true, sleepMs: 250 });
  });
});
