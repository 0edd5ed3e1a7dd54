/** Records the unit and integration tests build by hand, in one place. */
import { ENV } from '../../functions/config';
import type { Endpoint, StoredEvent } from '../../functions/shared/model';
import { functionTunables } from '../../infra/topology';

/** An enabled endpoint subscribed to every type, with one secret; `extra` overrides any field. */
export function anEndpoint(extra: Partial<Endpoint> = {}): Endpoint {
  return {
    id: 'ep_1',
    appId: 'app_1',
    url: 'https://example.com/h',
    eventTypes: [],
    description: '',
    enabled: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    secrets: [{ key: 'whsec_abc', createdAt: '2026-01-01T00:00:00.000Z' }],
    version: 0,
    ...extra,
  };
}

/** An event of app `app`, type `t`, accepted at `timestamp`, fanned out to `endpointIds`. */
export function anEvent(e: Pick<StoredEvent, 'id' | 'timestamp'> & Partial<StoredEvent>): StoredEvent {
  return {
    appId: 'app',
    type: 't',
    dataJson: '{}',
    requestHash: 'h',
    endpointIds: ['ep_1'],
    skippedEndpointIds: [],
    ...e,
  };
}

/** The resources the stack names to every function, as stand-ins (no AWS behind them). */
export const STAND_IN_RESOURCES = {
  [ENV.tableName]: 'hookrelay',
  [ENV.workQueueUrl]: 'http://sqs/work',
  [ENV.retryQueueUrl]: 'http://sqs/retry',
  [ENV.isolatedQueueUrl]: 'http://sqs/isolated',
  [ENV.dlqUrl]: 'http://sqs/dlq',
  [ENV.retentionDays]: '30',
  [ENV.version]: '0.1.0',
};

/** What the stack sets on a function (its tunables from infra/topology.ts), with stand-in resources. */
export function aFunctionEnvironment(extra: Record<string, string | undefined> = {}) {
  return { ...functionTunables(), ...STAND_IN_RESOURCES, ...extra };
}
