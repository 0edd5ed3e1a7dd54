/** A delivery: the event's payload, every attempt to this endpoint, and resending it. */
import { useState } from 'preact/hooks';
import { must, type Schemas } from './api';
import { Alert, failed, href, Json, NoticeLine, StatusBadge, Title, useLoad, usePortal, when, type Notice } from './ui';

type AttemptView = Schemas['Attempts']['items'][number];

/**
 * What an attempt came to, in words: the API's `outcome` says how the answer was classified
 * (`retryable` for a 5xx, a timeout, a refused connection), and the delivery's status says
 * whether a retry followed: the last attempt of a failed delivery was not retried.
 */
export function attemptLabel(
  a: AttemptView,
  isLast: boolean,
  status: string | undefined,
): { text: string; tone: string } {
  if (a.outcome === 'succeeded') return { text: 'succeeded', tone: 'succeeded' };
  if (a.outcome === 'gone') return { text: '410 Gone: endpoint disabled', tone: 'failed' };
  if (a.outcome === 'forbidden_destination') return { text: 'destination refused', tone: 'failed' };
  if (!isLast) return { text: 'failed, retried', tone: 'retried' };
  if (status === 'failed') return { text: 'failed, no retry left', tone: 'failed' };
  if (status === 'retrying' || status === 'pending') return { text: 'failed, will retry', tone: 'retrying' };
  return { text: 'failed', tone: 'failed' };
}

export function DeliveryScreen({ endpointId, eventId }: { endpointId: string; eventId: string }) {
  const { client, session, canManage } = usePortal();
  const path = { appId: session.appId, eventId };
  const [notice, setNotice] = useState<Notice>(null);
  const event = useLoad(() => must(client.GET('/v1/apps/{appId}/events/{eventId}', { params: { path } })), [eventId]);
  const attempts = useLoad(
    () => must(client.GET('/v1/apps/{appId}/events/{eventId}/attempts', { params: { path } })),
    [eventId],
  );
  const detail = useLoad(
    () =>
      must(
        client.GET('/v1/apps/{appId}/endpoints/{endpointId}/deliveries/{eventId}', {
          params: { path: { ...path, endpointId } },
        }),
      ),
    [eventId, endpointId],
  );
  const reload = () => {
    event.reload();
    attempts.reload();
    detail.reload();
  };

  async function resend() {
    try {
      const r = await must(
        client.POST('/v1/apps/{appId}/events/{eventId}/resend', { params: { path }, body: { endpointId } }),
      );
      setNotice({ kind: 'ok', text: r.deliveries > 0 ? 'Sent again.' : 'It is already on its way.' });
      // The attempt takes a moment: look again shortly.
      setTimeout(reload, 1000);
    } catch (err) {
      setNotice(failed(err));
    }
  }

  if (event.error) return <Alert failure={event.error} />;
  const ev = event.data;
  if (!ev) return <p>Loading…</p>;
  const delivery = ev.deliveries.find((d) => d.endpointId === endpointId);
  const mine = (attempts.data?.items ?? []).filter((a) => a.endpointId === endpointId);
  return (
    <section>
      <p>
        <a href={href('endpoints', endpointId)}>← Endpoint</a>
      </p>
      <div class="heading">
        <Title>
          Delivery of {ev.type}
          {ev.test && <span class="badge badge-test">test</span>}
        </Title>
        <div class="actions">
          <button type="button" onClick={reload}>
            Refresh
          </button>
          {canManage && (
            <button type="button" class="primary" onClick={() => void resend()}>
              Resend
            </button>
          )}
        </div>
      </div>
      <NoticeLine notice={notice} />
      <dl class="facts">
        <dt>Event id</dt>
        <dd>
          <code>{ev.id}</code>
        </dd>
        <dt>Event time</dt>
        <dd>{when(ev.timestamp)}</dd>
        <dt>Status</dt>
        <dd data-testid="delivery-status">
          {delivery ? <StatusBadge status={delivery.status} /> : 'not sent to this endpoint'}
        </dd>
        <dt>Attempts</dt>
        <dd>{delivery?.attempts ?? 0}</dd>
        <dt>Next attempt</dt>
        <dd>{when(delivery?.nextAttemptAt)}</dd>
        {detail.data?.lastError && (
          <>
            <dt>Last error</dt>
            <dd class="error-cell" data-testid="delivery-error">
              {detail.data.lastError}
            </dd>
          </>
        )}
      </dl>
      <section class="panel" aria-labelledby="request-title">
        <h2 id="request-title">Request</h2>
        {detail.data ? (
          <>
            <p class="request-line">
              <code>
                {detail.data.request.method} {detail.data.request.url}
              </code>
            </p>
            <table class="headers" data-testid="request-headers">
              <caption class="sr-only">Request headers</caption>
              <tbody>
                {Object.entries(detail.data.request.headers).map(([name, value]) => (
                  <tr key={name}>
                    <th scope="row">
                      <code>{name}</code>
                    </th>
                    <td>
                      <code>{value}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p class="muted">
              As the endpoint is set up now, with the latest attempt&rsquo;s <code>webhook-timestamp</code>. Secrets
              show as &bull;&bull;&bull;: signatures by their version or prefix, authorization by its scheme, your
              custom headers by name.
            </p>
          </>
        ) : (
          <Alert failure={detail.error ?? null} />
        )}
        <h3>Body</h3>
        <Json value={{ type: ev.type, timestamp: ev.timestamp, data: ev.data }} label="The webhook's body" />
      </section>
      <section class="panel" aria-labelledby="attempts-title">
        <h2 id="attempts-title">Attempts</h2>
        {mine.length === 0 ? (
          <p>No attempt yet.</p>
        ) : (
          <table>
            <caption class="sr-only">Every attempt, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Time</th>
                <th scope="col">HTTP status</th>
                <th scope="col">Duration</th>
                <th scope="col">Outcome</th>
                <th scope="col">Error</th>
                <th scope="col">Response</th>
              </tr>
            </thead>
            <tbody>
              {mine.map((a, i) => {
                const label = attemptLabel(a, i === mine.length - 1, delivery?.status);
                return (
                  <tr key={`${a.attempt}-${a.at}`}>
                    <td data-label="#">{a.attempt}</td>
                    <td data-label="Time">{when(a.at)}</td>
                    <td data-label="HTTP status">{a.statusCode ?? '—'}</td>
                    <td data-label="Duration">{a.durationMs} ms</td>
                    <td data-label="Outcome">
                      <span class={`badge badge-${label.tone}`}>{label.text}</span>
                    </td>
                    <td data-label="Error" class={a.error ? 'error-cell' : undefined}>
                      {a.error ?? <span class="muted">—</span>}
                    </td>
                    <td data-label="Response" class="response-cell">
                      {a.responseExcerpt ? (
                        <code class="excerpt">{a.responseExcerpt}</code>
                      ) : (
                        <span class="muted">—</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}
