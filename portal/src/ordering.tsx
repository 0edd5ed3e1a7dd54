/**
 * A strict endpoint's held keys (docs/ordering.md): each key whose head failed an attempt and
 * waits, with the head's attempts, next attempt and last error; a manage link can skip the head,
 * which fails it ("skipped by the endpoint's owner") so the key's later events go on.
 */
import { useState } from 'preact/hooks';
import { must } from './api';
import { errorText, NoticeLine, useLoad, usePortal, when, type Notice } from './ui';

export function HeldKeysPanel({ endpointId }: { endpointId: string }) {
  const { client, session, canManage } = usePortal();
  const path = { appId: session.appId, endpointId };
  const [notice, setNotice] = useState<Notice>(null);
  const held = useLoad(
    () => must(client.GET('/v1/apps/{appId}/endpoints/{endpointId}/ordering/held', { params: { path } })),
    [session.appId, endpointId],
  );

  async function skip(orderingKey: string | null) {
    try {
      const r = await must(
        client.POST('/v1/apps/{appId}/endpoints/{endpointId}/ordering/skip', {
          params: { path },
          body: { orderingKey },
        }),
      );
      setNotice({ kind: 'ok', text: `Skipped event ${r.eventId}: its key goes on with its next event.` });
      held.reload();
    } catch (err) {
      setNotice({ kind: 'error', text: errorText(err) });
    }
  }

  const items = held.data?.items ?? [];
  return (
    <section class="panel" aria-labelledby="held-title">
      <h2 id="held-title">Held keys</h2>
      <p>
        This endpoint receives the events that share an ordering key one at a time, in order. A key whose delivery
        failed waits for its retry; its later events wait behind it.
      </p>
      {held.error && <p role="alert">{held.error}</p>}
      {!held.error && items.length === 0 && <p>No key is held.</p>}
      {items.length > 0 && (
        <table data-testid="held-keys">
          <thead>
            <tr>
              <th>Key</th>
              <th>Held by</th>
              <th>Attempts</th>
              <th>Next attempt</th>
              <th>Last error</th>
              {canManage && <th />}
            </tr>
          </thead>
          <tbody>
            {items.map((h) => (
              <tr key={h.orderingKey ?? '#'}>
                <td>{h.orderingKey ?? 'Events without a key'}</td>
                <td>
                  <code>{h.eventId}</code>
                </td>
                <td>{h.attempts}</td>
                <td>{when(h.nextAttemptAt)}</td>
                <td>{h.lastError ?? '—'}</td>
                {canManage && (
                  <td>
                    <button type="button" class="danger" onClick={() => void skip(h.orderingKey)}>
                      Skip
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <NoticeLine notice={notice} />
    </section>
  );
}
