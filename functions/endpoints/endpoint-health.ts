/**
 * Endpoint health: a success clears the failing streak; a failed retry of a delivery whose
 * previous attempt failed too starts it, dated from that previous attempt; a streak older than
 * `disableAfterFailingS` disables the endpoint, as does a `410 Gone`. Writes only when the state
 * changes, so a healthy endpoint costs nothing per delivery, and neither does a delivery that
 * fails once and then succeeds (the common blip): the streak starts at the second failure in a
 * row, with the first one's time, so it is dated exactly as if it had been written then.
 */
import type { AttemptOutcome, Endpoint } from '../shared/model';

export interface EndpointHealthStore {
  disableEndpoint(appId: string, endpointId: string, reason: string, at: string): Promise<void>;
  /** Records that the endpoint started failing at `at` (if it was not failing already). */
  markEndpointFailing(appId: string, endpointId: string, at: string): Promise<void>;
  /** Clears the endpoint's failing streak after a success. */
  markEndpointHealthy(appId: string, endpointId: string): Promise<void>;
}

export function createEndpointHealth(deps: { store: EndpointHealthStore; disableAfterFailingS: number }) {
  return {
    /** `failedBefore`: when this delivery's previous attempt failed, if it did. */
    async track(endpoint: Endpoint, outcome: AttemptOutcome, at: Date, failedBefore?: string): Promise<void> {
      const { store } = deps;
      if (outcome === 'succeeded') {
        if (endpoint.failingSince !== undefined) await store.markEndpointHealthy(endpoint.appId, endpoint.id);
        return;
      }
      if (outcome === 'gone') {
        await store.disableEndpoint(endpoint.appId, endpoint.id, 'the endpoint answered 410 Gone', at.toISOString());
        return;
      }
      if (outcome !== 'retryable') return;
      if (endpoint.failingSince === undefined) {
        if (failedBefore !== undefined) await store.markEndpointFailing(endpoint.appId, endpoint.id, failedBefore);
        return;
      }
      const failingForS = (at.getTime() - Date.parse(endpoint.failingSince)) / 1000;
      if (failingForS >= deps.disableAfterFailingS) {
        const days = Math.round((failingForS / 86_400) * 10) / 10;
        await store.disableEndpoint(
          endpoint.appId,
          endpoint.id,
          `every attempt failed for ${days} days (since ${endpoint.failingSince})`,
          at.toISOString(),
        );
      }
    },
  };
}

export type EndpointHealth = ReturnType<typeof createEndpointHealth>;
