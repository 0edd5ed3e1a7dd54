/**
 * An endpoint's page: its settings, its secret (reveal and rotate, manage links only), its
 * statistics, its delivery log (filtered by status, event type and time window), a test event
 * from the catalog, and recovering what failed since a time.
 */
import { useState } from 'preact/hooks';
import type { paths } from '../../client';
import { must, type Schemas } from './api';
import { DeliveriesChart, LatencyChart, SeriesTable } from './chart';
import {
  ago,
  Alert,
  failed,
  href,
  isoToUtcInput,
  NoticeLine,
  Rate,
  StatusBadge,
  ThrottleNote,
  Title,
  useLoad,
  usePortal,
  utcToIso,
  when,
  type Notice,
} from './ui';
import { HeldKeysPanel } from './ordering';

const STATUSES = ['pending', 'retrying', 'succeeded', 'failed', 'skipped'] as const;
const WINDOWS = [
  { value: '1h', label: 'Last hour', ms: 3_600_000 },
  { value: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { value: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { value: '30d', label: 'Last 30 days', ms: 30 * 86_400_000 },
  { value: 'custom', label: 'Custom…', ms: 0 },
] as const;

export function EndpointScreen({ endpointId }: { endpointId: string }) {
  const { client, session, canManage } = usePortal();
  const appId = session.appId;
  const path = { appId, endpointId };
  const [notice, setNotice] = useState<Notice>(null);
  const endpoint = useLoad(
    () => must(client.GET('/v1/apps/{appId}/endpoints/{endpointId}', { params: { path } })),
    [appId, endpointId],
  );
  if (endpoint.error) return <Alert failure={endpoint.error} />;
  const ep = endpoint.data;
  if (!ep) return <p>Loading…</p>;

  async function setEnabled(enabled: boolean) {
    try {
      await must(client.PATCH('/v1/apps/{appId}/endpoints/{endpointId}', { params: { path }, body: { enabled } }));
      setNotice({ kind: 'ok', text: enabled ? 'Endpoint enabled.' : 'Endpoint disabled.' });
      endpoint.reload();
    } catch (err) {
      setNotice(failed(err));
    }
  }

  return (
    <section>
      <p>
        <a href={href()}>← Endpoints</a>
      </p>
      <div class="heading">
        <Title>{ep.url}</Title>
        {canManage && (
          <div class="actions">
            <a class="button" href={href('endpoints', ep.id, 'edit')}>
              Edit
            </a>
            <button type="button" onClick={() => void setEnabled(!ep.enabled)}>
              {ep.enabled ? 'Disable' : 'Enable'}
            </button>
          </div>
        )}
      </div>
      <NoticeLine notice={notice} />
      <dl class="facts">
        <dt>State</dt>
        <dd>
          <StatusBadge status={ep.enabled ? 'enabled' : 'disabled'} /> {ep.disabledReason}
        </dd>
        <dt>Description</dt>
        <dd>{ep.description || '—'}</dd>
        <dt>Event types</dt>
        <dd>{ep.eventTypes.length === 0 ? 'All types' : ep.eventTypes.join(', ')}</dd>
        <dt>Ordering</dt>
        <dd>{ep.ordering === 'strict' ? 'Strict: one event at a time per ordering key, in order' : 'None'}</dd>
        <dt>Id</dt>
        <dd>
          <code>{ep.id}</code>
        </dd>
        <dt>Created</dt>
        <dd>{when(ep.createdAt)}</dd>
        <dt>Rate limit</dt>
        <dd data-testid="rate-limit">
          {ep.rateLimit ? `at most ${ep.rateLimit.perSecond} requests a second` : 'none'}
        </dd>
        {ep.throttle && (
          <>
            <dt>Flow</dt>
            <dd data-testid="flow">
              {ep.throttle.state === 'normal' ? 'normal' : <ThrottleNote throttle={ep.throttle} />}
            </dd>
          </>
        )}
      </dl>
      {canManage && <SecretPanel endpointId={ep.id} />}
      {ep.ordering === 'strict' && <HeldKeysPanel endpointId={ep.id} />}
      <StatsPanel endpointId={ep.id} />
      <DeliveryLog endpointId={ep.id} />
      {canManage && <TestEventPanel endpointId={ep.id} />}
      {canManage && <RecoverPanel endpointId={ep.id} />}
    </section>
  );
}

function SecretPanel({ endpointId }: { endpointId: string }) {
  const { client, session } = usePortal();
  const path = { appId: session.appId, endpointId };
  const [secret, setSecret] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);

  async function reveal() {
    try {
      setSecret((await must(client.GET('/v1/apps/{appId}/endpoints/{endpointId}/secret', { params: { path } }))).key);
    } catch (err) {
      setNotice(failed(err));
    }
  }
  async function rotate() {
    try {
      const r = await must(client.POST('/v1/apps/{appId}/endpoints/{endpointId}/secret/rotate', { params: { path } }));
      setSecret(r.key);
      setConfirm(false);
      setNotice({ kind: 'ok', text: 'Secret rotated. The previous one keeps signing beside it for 24 hours.' });
    } catch (err) {
      setNotice(failed(err));
    }
  }

  return (
    <section class="panel" aria-labelledby="secret-title">
      <h2 id="secret-title">Signing secret</h2>
      {secret ? (
        <p>
          <code class="secret" data-testid="secret">
            {secret}
          </code>{' '}
          <button type="button" onClick={() => setSecret(null)}>
            Hide secret
          </button>
        </p>
      ) : (
        <p>
          <button type="button" onClick={() => void reveal()}>
            Reveal secret
          </button>
        </p>
      )}
      {confirm ? (
        <p>
          A new secret signs from now on.{' '}
          <button type="button" class="danger" onClick={() => void rotate()}>
            Confirm rotation
          </button>{' '}
          <button type="button" onClick={() => setConfirm(false)}>
            Cancel
          </button>
        </p>
      ) : (
        <p>
          <button type="button" onClick={() => setConfirm(true)}>
            Rotate secret
          </button>
        </p>
      )}
      <NoticeLine notice={notice} />
    </section>
  );
}

type Status = (typeof STATUSES)[number];
type LogQuery = paths['/v1/apps/{appId}/endpoints/{endpointId}/deliveries']['get']['parameters']['query'];

/** HTTP status codes grouped by class, most frequent first within each. */
function codeGroups(byStatusCode: Record<string, number>) {
  const groups = new Map<string, [string, number][]>();
  for (const [code, n] of Object.entries(byStatusCode).sort((x, y) => y[1] - x[1])) {
    const cls = `${code[0]}xx`;
    groups.set(cls, [...(groups.get(cls) ?? []), [code, n]]);
  }
  return [...groups.entries()].sort(([x], [y]) => x.localeCompare(y));
}

function StatsPanel({ endpointId }: { endpointId: string }) {
  const { client, session } = usePortal();
  const [span, setSpan] = useState('24h');
  const stats = useLoad(() => {
    const since = new Date(Date.now() - (WINDOWS.find((w) => w.value === span)?.ms ?? 86_400_000)).toISOString();
    return must(
      client.GET('/v1/apps/{appId}/endpoints/{endpointId}/stats', {
        params: { path: { appId: session.appId, endpointId }, query: { since } },
      }),
    );
  }, [endpointId, span]);
  const s = stats.data;
  const ms = (v: number | null) => (v === null ? '—' : `${Math.round(v)} ms`);
  return (
    <section class="panel" aria-labelledby="stats-title">
      <div class="heading">
        <h2 id="stats-title">Statistics</h2>
        <div class="inline">
          <label for="stats-window">Window</label>
          <select id="stats-window" value={span} onChange={(e) => setSpan(e.currentTarget.value)}>
            {WINDOWS.filter((w) => w.value !== 'custom').map((w) => (
              <option value={w.value} key={w.value}>
                {w.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <Alert failure={stats.error ?? null} />
      {s && (
        <>
          <dl class="stats" data-testid="stats-headline">
            <div>
              <dt>Deliveries</dt>
              <dd data-testid="stat-total">{s.total}</dd>
            </div>
            <div>
              <dt>Success rate</dt>
              <dd data-testid="stat-rate">
                <Rate rate={s.successRate} />
              </dd>
            </div>
            <div>
              <dt>Latency p50</dt>
              <dd>{ms(s.latencyMs.p50)}</dd>
            </div>
            <div>
              <dt>Latency p95</dt>
              <dd>{ms(s.latencyMs.p95)}</dd>
            </div>
          </dl>
          {s.truncated && <p class="muted">More than 10,000 deliveries: these figures cover the newest 10,000.</p>}
          {s.lastFailure && (
            <p data-testid="stat-last-failure">
              Last failure:{' '}
              <a href={href('endpoints', endpointId, 'deliveries', s.lastFailure.eventId)}>{when(s.lastFailure.at)}</a>{' '}
              ({ago(s.lastFailure.at)}),{' '}
              {s.lastFailure.error ??
                (s.lastFailure.statusCode === null ? 'no response' : `HTTP ${s.lastFailure.statusCode}`)}
              {s.lastFailure.status === 'retrying' ? '; it will be retried.' : '; no retry left.'}
            </p>
          )}
          <div class="charts">
            <DeliveriesChart series={s.series} />
            <LatencyChart series={s.series} />
          </div>
          <SeriesTable series={s.series} />
          <div class="columns">
            <div>
              <h3>By status</h3>
              <dl class="counts" data-testid="stats-by-status">
                {STATUSES.map((k) => (
                  <div key={k}>
                    <dt>
                      <StatusBadge status={k} />
                    </dt>
                    <dd>{s.byStatus[k]}</dd>
                  </div>
                ))}
              </dl>
            </div>
            <div>
              <h3>By the last HTTP status</h3>
              {Object.keys(s.byStatusCode).length === 0 ? (
                <p class="muted">No HTTP answer in this window.</p>
              ) : (
                <dl class="counts" data-testid="stats-by-code">
                  {codeGroups(s.byStatusCode).map(([cls, codes]) => (
                    <div key={cls}>
                      <dt>{cls}</dt>
                      <dd>
                        {codes.map(([code, n]) => (
                          <span class="code-count" key={code}>
                            <code>{code}</code> × {n}
                          </span>
                        ))}
                      </dd>
                    </div>
                  ))}
                </dl>
              )}
            </div>
          </div>
        </>
      )}
    </section>
  );
}

function DeliveryLog({ endpointId }: { endpointId: string }) {
  const { client, session, catalog } = usePortal();
  const [status, setStatus] = useState('');
  const [eventType, setEventType] = useState('');
  const [span, setSpan] = useState('24h');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [pages, setPages] = useState<string[]>([]);
  const [typed, setTyped] = useState('');
  const [eventId, setEventId] = useState('');

  const query: NonNullable<LogQuery> = { limit: 25 };
  if (eventId) {
    // An event id finds its delivery whatever its age: no window, no other filter.
    query.eventId = eventId;
  } else {
    if (status) query.status = status as Status;
    if (eventType) query.eventType = eventType;
    if (span === 'custom') {
      const since = utcToIso(from);
      const until = utcToIso(to);
      if (since) query.since = since;
      if (until) query.until = until;
    } else {
      const ms = WINDOWS.find((w) => w.value === span)?.ms ?? 86_400_000;
      query.since = new Date(Date.now() - ms).toISOString();
    }
  }
  const cursor = pages.at(-1);
  if (cursor) query.cursor = cursor;
  // The window's start moves with the clock: the key leaves it out, so a render does not reload.
  const key = JSON.stringify({ ...query, since: span === 'custom' ? query.since : span });
  const log = useLoad(
    () =>
      must(
        client.GET('/v1/apps/{appId}/endpoints/{endpointId}/deliveries', {
          params: { path: { appId: session.appId, endpointId }, query },
        }),
      ),
    [endpointId, key],
  );
  const reset =
    <T,>(setter: (v: T) => void) =>
    (v: T) => {
      setPages([]);
      setter(v);
    };
  const search = (e: Event) => {
    e.preventDefault();
    reset(setEventId)(typed.trim());
  };

  return (
    <section class="panel" aria-labelledby="log-title">
      <div class="heading">
        <h2 id="log-title">Deliveries</h2>
        <button type="button" onClick={() => log.reload()}>
          Refresh
        </button>
      </div>
      <form class="inline search" role="search" onSubmit={search}>
        <label for="log-event-id">Event id</label>
        <input
          id="log-event-id"
          type="search"
          placeholder="evt_…"
          value={typed}
          onInput={(e) => setTyped(e.currentTarget.value)}
        />
        <button type="submit">Find</button>
        {eventId && (
          <button
            type="button"
            onClick={() => {
              setTyped('');
              reset(setEventId)('');
            }}
          >
            Show all
          </button>
        )}
      </form>
      {eventId ? (
        <p class="muted" data-testid="log-searching">
          The delivery of event <code>{eventId}</code> to this endpoint, whatever its age.
        </p>
      ) : (
        <div class="filters">
          <div>
            <label for="log-status">Status</label>
            <select id="log-status" value={status} onChange={(e) => reset(setStatus)(e.currentTarget.value)}>
              <option value="">Any</option>
              {STATUSES.map((s) => (
                <option value={s} key={s}>
                  {s}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label for="log-type">Event type</label>
            <select id="log-type" value={eventType} onChange={(e) => reset(setEventType)(e.currentTarget.value)}>
              <option value="">Any</option>
              {catalog.map((t) => (
                <option value={t.name} key={t.name}>
                  {t.name}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label for="log-window">Time window</label>
            <select id="log-window" value={span} onChange={(e) => reset(setSpan)(e.currentTarget.value)}>
              {WINDOWS.map((w) => (
                <option value={w.value} key={w.value}>
                  {w.label}
                </option>
              ))}
            </select>
          </div>
          {span === 'custom' && (
            <>
              <div>
                <label for="log-from">From (UTC)</label>
                <input
                  id="log-from"
                  type="datetime-local"
                  value={from}
                  onChange={(e) => reset(setFrom)(e.currentTarget.value)}
                />
              </div>
              <div>
                <label for="log-to">Until (UTC)</label>
                <input
                  id="log-to"
                  type="datetime-local"
                  value={to}
                  onChange={(e) => reset(setTo)(e.currentTarget.value)}
                />
              </div>
            </>
          )}
        </div>
      )}
      <Alert failure={log.error ?? null} />
      {log.data && log.data.items.length === 0 && (
        <p>{eventId ? 'No delivery of that event to this endpoint.' : 'No deliveries match.'}</p>
      )}
      {log.data && log.data.items.length > 0 && (
        <table class="log">
          <caption class="sr-only">Deliveries to this endpoint, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last code</th>
              <th scope="col">Error</th>
              <th scope="col">Event time</th>
            </tr>
          </thead>
          <tbody>
            {log.data.items.map((d) => (
              <tr key={d.eventId}>
                <td data-label="Event" class="id">
                  <a href={href('endpoints', endpointId, 'deliveries', d.eventId)}>{d.eventId}</a>
                </td>
                <td data-label="Type">
                  {d.eventType}
                  {d.test && <span class="badge badge-test">test</span>}
                </td>
                <td data-label="Status">
                  <StatusBadge status={d.status} />
                </td>
                <td data-label="Attempts">{d.attempts}</td>
                <td data-label="Last code">{d.lastStatusCode ?? '—'}</td>
                <td data-label="Error" class={d.lastError ? 'error-cell' : undefined}>
                  {d.lastError ?? <span class="muted">—</span>}
                </td>
                <td data-label="Event time">{when(d.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="actions">
        {pages.length > 0 && (
          <button type="button" onClick={() => setPages(pages.slice(0, -1))}>
            Newer
          </button>
        )}
        {log.data?.nextCursor && (
          <button type="button" onClick={() => setPages([...pages, log.data!.nextCursor!])}>
            Older
          </button>
        )}
      </div>
    </section>
  );
}

function TestEventPanel({ endpointId }: { endpointId: string }) {
  const { client, session, catalog } = usePortal();
  const usable = catalog.filter((t: Schemas['EventType']) => t.examples.length > 0);
  const [type, setType] = useState(usable[0]?.name ?? '');
  const [notice, setNotice] = useState<Notice>(null);
  const [sent, setSent] = useState<string | null>(null);

  async function send(e: Event) {
    e.preventDefault();
    try {
      const r = await must(
        client.POST('/v1/apps/{appId}/endpoints/{endpointId}/send-example', {
          params: { path: { appId: session.appId, endpointId } },
          body: { eventType: type },
        }),
      );
      setSent(r.id);
      setNotice({ kind: 'ok', text: `Test event ${r.id} sent.` });
    } catch (err) {
      setNotice(failed(err));
    }
  }

  return (
    <section class="panel" aria-labelledby="test-title">
      <h2 id="test-title">Send a test event</h2>
      {usable.length === 0 ? (
        <p class="muted">No event type in the catalog has an example to send.</p>
      ) : (
        <form class="inline" onSubmit={(e) => void send(e)}>
          <label for="test-type">Event type</label>
          <select id="test-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
            {usable.map((t) => (
              <option value={t.name} key={t.name}>
                {t.name}
              </option>
            ))}
          </select>
          <button type="submit" class="primary">
            Send test event
          </button>
        </form>
      )}
      <NoticeLine notice={notice} />
      {sent && (
        <p>
          <a href={href('endpoints', endpointId, 'deliveries', sent)}>See the test delivery</a>
        </p>
      )}
    </section>
  );
}

function RecoverPanel({ endpointId }: { endpointId: string }) {
  const { client, session } = usePortal();
  const [since, setSince] = useState(() => isoToUtcInput(new Date(Date.now() - 86_400_000)));
  const [notice, setNotice] = useState<Notice>(null);

  async function recover(e: Event) {
    e.preventDefault();
    const iso = utcToIso(since);
    if (!iso) return setNotice({ kind: 'error', text: 'Choose a date and time (UTC) to recover from.' });
    try {
      const r = await must(
        client.POST('/v1/apps/{appId}/endpoints/{endpointId}/recover', {
          params: { path: { appId: session.appId, endpointId } },
          body: { since: iso },
        }),
      );
      setNotice({
        kind: 'ok',
        text: `${r.recovered} failed deliver${r.recovered === 1 ? 'y' : 'ies'} sent again, of events since ${when(iso)}${r.more ? '; more remain, recover again' : ''}.`,
      });
    } catch (err) {
      setNotice(failed(err));
    }
  }

  return (
    <section class="panel" aria-labelledby="recover-title">
      <h2 id="recover-title">Recover failed deliveries</h2>
      <p class="muted" id="recover-help">
        Sends again every delivery to this endpoint that failed for an event since this time. The time is in UTC (now{' '}
        {when(new Date().toISOString().slice(0, 16) + ':00Z')}).
      </p>
      <form class="inline" onSubmit={(e) => void recover(e)}>
        <label for="recover-since">Since (UTC)</label>
        <input
          id="recover-since"
          type="datetime-local"
          aria-describedby="recover-help"
          value={since}
          onChange={(e) => setSince(e.currentTarget.value)}
        />
        <button type="submit">Recover</button>
      </form>
      <NoticeLine notice={notice} />
    </section>
  );
}
