/** A delivery: the event's payload, every attempt to this endpoint, and resending it. */
import { useState } from 'preact/hooks';
import { must } from './api';
import { errorText, href, Json, NoticeLine, StatusBadge, Title, useLoad, usePortal, when, type Notice } from './ui';

export function DeliveryScreen({ endpointId, eventId }: { endpointId: string; eventId: string }) {
  const { client, session, canManage } = usePortal();
  const path = { appId: session.appId, eventId };
  const [notice, setNotice] = useState<Notice>(null);
  const event = useLoad(() => must(client.GET('/v1/apps/{appId}/events/{eventId}', { params: { path } })), [eventId]);
  const attempts = useLoad(
    () => must(client.GET('/v1/apps/{appId}/events/{eventId}/attempts', { params: { path } })),
    [eventId],
  );
  const reload = () => {
    event.reload();
    attempts.reload();
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
      setNotice({ kind: 'error', text: errorText(err) });
    }
  }

  if (event.error) return <p role="alert">{event.error}</p>;
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
      </dl>
      <section class="panel" aria-labelledby="payload-title">
        <h2 id="payload-title">Payload</h2>
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
              {mine.map((a) => (
                <tr key={`${a.attempt}-${a.at}`}>
                  <td>{a.attempt}</td>
                  <td>{when(a.at)}</td>
                  <td>{a.statusCode ?? '—'}</td>
                  <td>{a.durationMs} ms</td>
                  <td>
                    <StatusBadge status={a.outcome} />
                  </td>
                  <td>{a.error ?? '—'}</td>
                  <td>
                    <code class="excerpt">{a.responseExcerpt ?? ''}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}
