/** The endpoints screen (list, enable/disable, delete) and the endpoint form (create and edit). */
import { useState } from 'preact/hooks';
import type { RequestBody } from '../../client';
import { must, type Schemas } from './api';
import {
  ago,
  Alert,
  failed,
  href,
  NoticeLine,
  Rate,
  StatusBadge,
  ThrottleNote,
  Title,
  useLoad,
  usePortal,
  when,
  type Notice,
} from './ui';

type Endpoint = Schemas['Endpoint'];
type EndpointCreate = RequestBody<'/v1/apps/{appId}/endpoints', 'post'>;
type EndpointChange = RequestBody<'/v1/apps/{appId}/endpoints/{endpointId}', 'patch'>;

export function EndpointsScreen() {
  const { client, session, canManage } = usePortal();
  const appId = session.appId;
  const [notice, setNotice] = useState<Notice>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const list = useLoad(
    () => must(client.GET('/v1/apps/{appId}/endpoints', { params: { path: { appId }, query: { limit: 250 } } })),
    [appId],
  );

  async function setEnabled(ep: Endpoint, enabled: boolean) {
    try {
      await must(
        client.PATCH('/v1/apps/{appId}/endpoints/{endpointId}', {
          params: { path: { appId, endpointId: ep.id } },
          body: { enabled },
        }),
      );
      setNotice({ kind: 'ok', text: `${ep.url} is ${enabled ? 'enabled' : 'disabled'}.` });
      list.reload();
    } catch (err) {
      setNotice(failed(err));
    }
  }

  async function remove(ep: Endpoint) {
    try {
      await must(
        client.DELETE('/v1/apps/{appId}/endpoints/{endpointId}', { params: { path: { appId, endpointId: ep.id } } }),
      );
      setConfirming(null);
      setNotice({ kind: 'ok', text: `${ep.url} was deleted.` });
      list.reload();
    } catch (err) {
      setNotice(failed(err));
    }
  }

  return (
    <section>
      <div class="heading">
        <Title>Endpoints</Title>
        {canManage && (
          <a class="button primary" href={href('endpoints', 'new')}>
            Add endpoint
          </a>
        )}
      </div>
      <NoticeLine notice={notice} />
      <Alert failure={list.error ?? null} />
      {list.data && list.data.items.length === 0 && <p>No endpoints yet.</p>}
      {list.data && list.data.items.length > 0 && (
        <table>
          <caption class="sr-only">Endpoints of this app</caption>
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Event types</th>
              <th scope="col">State</th>
              <th scope="col">Health, last 24 h</th>
              {canManage && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((ep) => (
              <tr key={ep.id}>
                <td data-label="URL" class="url">
                  <a href={href('endpoints', ep.id)}>{ep.url}</a>
                  {ep.description && <div class="muted">{ep.description}</div>}
                </td>
                <td data-label="Event types">{ep.eventTypes.length === 0 ? 'All types' : ep.eventTypes.join(', ')}</td>
                <td data-label="State">
                  <StatusBadge status={ep.enabled ? 'enabled' : 'disabled'} />
                  {ep.disabledReason && <div class="muted">{ep.disabledReason}</div>}
                  <ThrottleNote throttle={ep.throttle} />
                </td>
                <td data-label="Health, last 24 h">
                  <Health endpointId={ep.id} />
                </td>
                {canManage && (
                  <td class="actions" data-label="Actions">
                    <button type="button" onClick={() => void setEnabled(ep, !ep.enabled)}>
                      {ep.enabled ? 'Disable' : 'Enable'}
                      <span class="sr-only"> {ep.url}</span>
                    </button>
                    {confirming === ep.id ? (
                      <>
                        <button type="button" class="danger" onClick={() => void remove(ep)}>
                          Confirm delete<span class="sr-only"> {ep.url}</span>
                        </button>
                        <button type="button" onClick={() => setConfirming(null)}>
                          Cancel
                        </button>
                      </>
                    ) : (
                      <button type="button" class="danger" onClick={() => setConfirming(ep.id)}>
                        Delete<span class="sr-only"> {ep.url}</span>
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/**
 * An endpoint's health at a glance: its success rate over the last 24 hours and its latest
 * failure, from the statistics route (one call per endpoint, read-only).
 */
function Health({ endpointId }: { endpointId: string }) {
  const { client, session } = usePortal();
  const [since] = useState(() => new Date(Date.now() - 86_400_000).toISOString());
  const stats = useLoad(
    () =>
      must(
        client.GET('/v1/apps/{appId}/endpoints/{endpointId}/stats', {
          params: { path: { appId: session.appId, endpointId }, query: { since } },
        }),
      ),
    [endpointId],
  );
  if (stats.error) return <span class="muted">{stats.error.text}</span>;
  const s = stats.data;
  if (!s) return <span class="muted">…</span>;
  const finished = s.byStatus.succeeded + s.byStatus.failed;
  const failure = s.lastFailure;
  return (
    <div class="health" data-testid="health">
      {s.total === 0 ? (
        <span class="muted">No deliveries</span>
      ) : (
        <span>
          <Rate rate={s.successRate} />{' '}
          <span class="muted">
            of {finished} finished{s.byStatus.retrying > 0 ? `, ${s.byStatus.retrying} retrying` : ''}
          </span>
        </span>
      )}
      {failure && (
        <div class="muted" data-testid="last-failure">
          Last failure{' '}
          <a href={href('endpoints', endpointId, 'deliveries', failure.eventId)} title={when(failure.at)}>
            {ago(failure.at)}
          </a>
          : {failure.error ?? (failure.statusCode === null ? 'no response' : `HTTP ${failure.statusCode}`)}
        </div>
      )}
    </div>
  );
}

/** The signature, header and auth options (CONTRACT.md, additions of 2026-12-01). */
type Scheme = 'standard-webhooks' | 'hmac-sha256' | 'standard-webhooks-v1a';
type AuthKind = 'none' | 'basic' | 'bearer' | 'oauth2-client-credentials';

interface FormState {
  url: string;
  /** Requests a second at most, as typed; empty: no limit. */
  rateLimit: string;
  description: string;
  enabled: boolean;
  eventTypes: string[];
  secret: string;
  scheme: Scheme;
  hmacHeader: string;
  hmacPrefix: string;
  headers: string;
  auth: AuthKind;
  username: string;
  password: string;
  bearer: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  audience: string;
}

function initial(ep: Endpoint | undefined): FormState {
  const sig = ep?.signature;
  const auth = ep?.auth;
  return {
    url: ep?.url ?? '',
    rateLimit: ep?.rateLimit ? String(ep.rateLimit.perSecond) : '',
    description: ep?.description ?? '',
    enabled: ep?.enabled ?? true,
    eventTypes: ep?.eventTypes ?? [],
    secret: '',
    scheme: sig?.scheme ?? 'standard-webhooks',
    hmacHeader: sig?.scheme === 'hmac-sha256' ? sig.header : '',
    hmacPrefix: sig?.scheme === 'hmac-sha256' ? sig.prefix : '',
    // Header values are write-only: the form starts empty and replaces them all when filled.
    headers: '',
    auth: auth?.type ?? 'none',
    username: auth?.type === 'basic' ? auth.username : '',
    password: '',
    bearer: '',
    tokenUrl: auth?.type === 'oauth2-client-credentials' ? auth.tokenUrl : '',
    clientId: auth?.type === 'oauth2-client-credentials' ? auth.clientId : '',
    clientSecret: '',
    scope: auth?.type === 'oauth2-client-credentials' ? (auth.scope ?? '') : '',
    audience: auth?.type === 'oauth2-client-credentials' ? (auth.audience ?? '') : '',
  };
}

/** Where the API names each field in an error's `details`. */
const FIELD_PATHS: Partial<Record<keyof FormState, string>> = {
  url: 'url',
  rateLimit: 'rateLimit',
  description: 'description',
  secret: 'secret',
  hmacHeader: 'signature.header',
  hmacPrefix: 'signature.prefix',
  headers: 'headers',
  username: 'auth.username',
  password: 'auth.password',
  bearer: 'auth.token',
  tokenUrl: 'auth.tokenUrl',
  clientId: 'auth.clientId',
  clientSecret: 'auth.clientSecret',
  scope: 'auth.scope',
  audience: 'auth.audience',
};

const AUTH_FIELDS: (keyof FormState)[] = [
  'auth',
  'username',
  'password',
  'bearer',
  'tokenUrl',
  'clientId',
  'clientSecret',
  'scope',
  'audience',
];

/**
 * The request body. An option goes only when the form changed it, so that saving an edit never
 * resets what the form cannot show (write-only secrets and header values, a v1a key).
 */
function bodyOf(f: FormState, start: FormState, ep: Endpoint | undefined): EndpointChange & { url: string } {
  const body: EndpointChange & { url: string } = {
    url: f.url.trim(),
    description: f.description,
    enabled: f.enabled,
    eventTypes: f.eventTypes,
  };
  const changed = (...keys: (keyof FormState)[]) => keys.some((k) => f[k] !== start[k]);
  if (f.secret !== '') body.secret = f.secret;
  if (changed('rateLimit')) {
    const limit = f.rateLimit.trim();
    // Sent as typed: the API says what is wrong with a value out of range or not a number.
    body.rateLimit = limit === '' ? null : { perSecond: Number(limit) };
  }
  if (changed('scheme', 'hmacHeader', 'hmacPrefix')) {
    body.signature =
      f.scheme === 'hmac-sha256'
        ? {
            scheme: 'hmac-sha256',
            ...(f.hmacHeader ? { header: f.hmacHeader } : {}),
            ...(f.hmacPrefix ? { prefix: f.hmacPrefix } : {}),
          }
        : { scheme: f.scheme };
  }
  if (changed('headers')) {
    const headers = Object.fromEntries(
      f.headers
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '')
        .map((line) => {
          const at = line.indexOf(':');
          return at === -1 ? [line, ''] : [line.slice(0, at).trim(), line.slice(at + 1).trim()];
        }),
    );
    body.headers = headers;
  }
  if (changed(...AUTH_FIELDS)) {
    if (f.auth === 'basic') body.auth = { type: 'basic', username: f.username, password: f.password };
    if (f.auth === 'bearer') body.auth = { type: 'bearer', token: f.bearer };
    if (f.auth === 'oauth2-client-credentials') {
      body.auth = {
        type: 'oauth2-client-credentials',
        tokenUrl: f.tokenUrl,
        clientId: f.clientId,
        clientSecret: f.clientSecret,
        ...(f.scope ? { scope: f.scope } : {}),
        ...(f.audience ? { audience: f.audience } : {}),
      };
    }
    if (f.auth === 'none' && ep?.auth !== undefined) body.auth = null;
  }
  return body;
}

export function EndpointFormScreen({ endpointId }: { endpointId?: string }) {
  const { client, session, canManage } = usePortal();
  const appId = session.appId;
  const existing = useLoad(
    () =>
      endpointId === undefined
        ? Promise.resolve(undefined)
        : must(client.GET('/v1/apps/{appId}/endpoints/{endpointId}', { params: { path: { appId, endpointId } } })),
    [appId, endpointId],
  );
  if (!canManage) return <p role="alert">This portal link is read-only.</p>;
  if (existing.loading && existing.data === undefined) return <p>Loading…</p>;
  if (existing.error) return <Alert failure={existing.error} />;
  return <EndpointForm endpointId={endpointId} existing={existing.data} />;
}

function EndpointForm({ endpointId, existing }: { endpointId?: string; existing?: Endpoint }) {
  const { client, session, catalog } = usePortal();
  const appId = session.appId;
  const [start] = useState<FormState>(() => initial(existing));
  const [f, setF] = useState<FormState>(start);
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof FormState>(key: K, value: FormState[K]) => setF((s) => ({ ...s, [key]: value }));
  const refused = (key: keyof FormState) => {
    const path = FIELD_PATHS[key];
    return path !== undefined && (notice?.details ?? []).some((d) => d.path === path || d.path.startsWith(`${path}.`));
  };
  const text = (key: keyof FormState) => ({
    value: f[key] as string,
    onInput: (e: Event) => set(key, (e.currentTarget as HTMLInputElement).value as never),
    // A field the API refused says so to assistive technology, and the notice below says why.
    ...(refused(key) ? { 'aria-invalid': true as const, 'aria-describedby': 'ep-form-notice' } : {}),
  });

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    try {
      const body = bodyOf(f, start, existing);
      const saved =
        endpointId === undefined
          ? // A new endpoint has no auth to remove: bodyOf sends null only on an edit.
            await must(
              client.POST('/v1/apps/{appId}/endpoints', { params: { path: { appId } }, body: body as EndpointCreate }),
            )
          : await must(
              client.PATCH('/v1/apps/{appId}/endpoints/{endpointId}', {
                params: { path: { appId, endpointId } },
                body,
              }),
            );
      location.hash = href('endpoints', saved.id);
    } catch (err) {
      setNotice(failed(err));
      // Take the user to the first field the API refused (its reason is under it and below).
      setTimeout(() => document.querySelector<HTMLElement>('.form [aria-invalid="true"]')?.focus());
    } finally {
      setBusy(false);
    }
  }

  const known = new Set(catalog.map((t) => t.name));
  const extra = f.eventTypes.filter((t) => !known.has(t));
  return (
    <section>
      <Title>{endpointId === undefined ? 'Add endpoint' : 'Edit endpoint'}</Title>
      <form onSubmit={(e) => void submit(e)} class="form">
        <label for="ep-url">URL</label>
        <input id="ep-url" type="url" required placeholder="https://example.com/webhooks" {...text('url')} />
        {notice?.details
          ?.filter((d) => d.path === 'url')
          .map((d) => (
            <p class="field-error" key={d.message} data-testid="url-error">
              {d.message}
            </p>
          ))}
        <label for="ep-description">Description</label>
        <input id="ep-description" {...text('description')} />
        <div class="check">
          <input
            id="ep-enabled"
            type="checkbox"
            checked={f.enabled}
            onChange={(e) => set('enabled', e.currentTarget.checked)}
          />
          <label for="ep-enabled">Enabled</label>
        </div>

        <fieldset>
          <legend>Event types (none checked: every type)</legend>
          {catalog.length === 0 && <p class="muted">The catalog has no event types.</p>}
          {[...catalog.map((t) => t.name), ...extra].map((name) => (
            <div class="check" key={name}>
              <input
                id={`ep-type-${name}`}
                type="checkbox"
                checked={f.eventTypes.includes(name)}
                onChange={(e) =>
                  set(
                    'eventTypes',
                    e.currentTarget.checked ? [...f.eventTypes, name] : f.eventTypes.filter((t) => t !== name),
                  )
                }
              />
              <label for={`ep-type-${name}`}>{name}</label>
            </div>
          ))}
        </fieldset>

        <fieldset>
          <legend>Delivery rate</legend>
          <label for="ep-rate-limit">At most this many requests a second (empty: no limit)</label>
          <input
            id="ep-rate-limit"
            type="number"
            inputMode="decimal"
            step="any"
            placeholder="no limit"
            {...text('rateLimit')}
          />
          <p class="muted">
            From 0.1 (one request every 10 s) to 1000. First attempts and retries count together; deliveries over the
            rate wait, they are never dropped. Whatever the limit, hookrelay also slows down by itself when your
            endpoint answers 429 or 503, or gets slow.
          </p>
        </fieldset>

        <fieldset>
          <legend>Signature</legend>
          <label for="ep-scheme">Scheme</label>
          <select id="ep-scheme" value={f.scheme} onChange={(e) => set('scheme', e.currentTarget.value as Scheme)}>
            <option value="standard-webhooks">Standard Webhooks (webhook-signature)</option>
            <option value="hmac-sha256">HMAC-SHA256 of the body, hex, in a header of your choice</option>
            <option value="standard-webhooks-v1a">Standard Webhooks v1a (ed25519; verify with a public key)</option>
          </select>
          {existing?.signature?.scheme === 'standard-webhooks-v1a' && (
            <p class="muted">
              Public key: <code>{existing.signature.publicKey}</code>
            </p>
          )}
          {f.scheme === 'hmac-sha256' && (
            <>
              <label for="ep-hmac-header">Header</label>
              <input id="ep-hmac-header" placeholder="X-Hub-Signature-256" {...text('hmacHeader')} />
              <label for="ep-hmac-prefix">Prefix</label>
              <input id="ep-hmac-prefix" placeholder="sha256=" {...text('hmacPrefix')} />
            </>
          )}
          <label for="ep-secret">Signing secret of your choice (optional, 16-256 characters)</label>
          <input id="ep-secret" type="password" autoComplete="new-password" {...text('secret')} />
        </fieldset>

        <fieldset>
          <legend>Extra headers</legend>
          {(existing?.headerNames.length ?? 0) > 0 && (
            <p class="muted">
              Sent now: {existing?.headerNames.join(', ')}. Their values are write-only: enter every header again to
              change them.
            </p>
          )}
          <label for="ep-headers">One per line, as Name: value</label>
          <textarea id="ep-headers" rows={3} {...text('headers')} />
        </fieldset>

        <fieldset>
          <legend>Authentication to your endpoint</legend>
          <label for="ep-auth">Method</label>
          <select id="ep-auth" value={f.auth} onChange={(e) => set('auth', e.currentTarget.value as AuthKind)}>
            <option value="none">None</option>
            <option value="basic">HTTP Basic</option>
            <option value="bearer">Bearer token</option>
            <option value="oauth2-client-credentials">OAuth 2.0 client credentials</option>
          </select>
          {f.auth === 'basic' && (
            <>
              <label for="ep-username">Username</label>
              <input id="ep-username" {...text('username')} />
              <label for="ep-password">Password</label>
              <input id="ep-password" type="password" autoComplete="new-password" {...text('password')} />
            </>
          )}
          {f.auth === 'bearer' && (
            <>
              <label for="ep-bearer">Token</label>
              <input id="ep-bearer" type="password" autoComplete="off" {...text('bearer')} />
            </>
          )}
          {f.auth === 'oauth2-client-credentials' && (
            <>
              <label for="ep-token-url">Token URL</label>
              <input id="ep-token-url" type="url" {...text('tokenUrl')} />
              <label for="ep-client-id">Client id</label>
              <input id="ep-client-id" {...text('clientId')} />
              <label for="ep-client-secret">Client secret</label>
              <input id="ep-client-secret" type="password" autoComplete="off" {...text('clientSecret')} />
              <label for="ep-scope">Scope (optional)</label>
              <input id="ep-scope" {...text('scope')} />
              <label for="ep-audience">Audience (optional)</label>
              <input id="ep-audience" {...text('audience')} />
            </>
          )}
          {existing?.auth && <p class="muted">Secrets are write-only: enter them again to change them.</p>}
        </fieldset>

        <div id="ep-form-notice">
          <NoticeLine notice={notice} />
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {endpointId === undefined ? 'Create endpoint' : 'Save changes'}
          </button>
          <a class="button" href={endpointId === undefined ? href() : href('endpoints', endpointId)}>
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}
