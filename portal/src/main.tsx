/**
 * The consumer portal: one page, served at /portal by the api function, talking to the API with
 * its link's token. Screens are chosen by the fragment (`#/endpoints/<id>`...); a read-only link
 * renders no control that changes anything; a refused link (expired, ended) says so and stops.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { must, portalClient, whenRefused, type Schemas } from './api';
import { boot, forgetToken } from './boot';
import { CatalogScreen } from './catalog';
import { DeliveryScreen } from './delivery';
import { EndpointScreen } from './endpoint';
import { EndpointFormScreen, EndpointsScreen } from './endpoints';
import { errorText, href, PortalContext, useRoute, when, type Portal } from './ui';

/** The API's message as a sentence people read: capitalised, its times as the page shows times. */
function asSentence(message: string): string {
  const text = message.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, (iso) => when(iso));
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
}

/**
 * A link that does not open the portal: why (the API's words: expired, ended, unknown), and what
 * to do about it. A link is minted by the service that sent the customer here, so a fresh one
 * comes from there, never from this page.
 */
function Refused({ message }: { message: string }) {
  return (
    <main class="refused">
      <h1>This link does not open the webhooks portal</h1>
      <p role="alert" data-testid="refused">
        {asSentence(message)}
      </p>
      <section class="panel" data-testid="refused-help" aria-labelledby="refused-what">
        <h2 id="refused-what">What to do</h2>
        <ol>
          <li>
            Go back to the service that sent you here and open its webhooks page again: it makes a new link each time,
            valid for a limited time.
          </li>
          <li>If this page is shown inside that service, reload the page around it.</li>
          <li>If a new link fails too, ask that service&rsquo;s support for portal access.</li>
        </ol>
        <p class="muted">A link cannot be renewed from here, and an old one does not start working again.</p>
      </section>
    </main>
  );
}

function Screen({ route }: { route: string[] }) {
  const [first, id, sub, eventId] = route;
  if (first === 'catalog') return <CatalogScreen />;
  if (first === 'endpoints' && id === 'new') return <EndpointFormScreen />;
  if (first === 'endpoints' && id && sub === 'edit') return <EndpointFormScreen endpointId={id} />;
  if (first === 'endpoints' && id && sub === 'deliveries' && eventId)
    return <DeliveryScreen endpointId={id} eventId={eventId} />;
  if (first === 'endpoints' && id) return <EndpointScreen endpointId={id} />;
  return <EndpointsScreen />;
}

function App({ token }: { token: string }) {
  const [refused, setRefused] = useState<string | null>(null);
  const [portal, setPortal] = useState<Portal | null>(null);
  const [app, setApp] = useState<Schemas['App'] | null>(null);
  const route = useRoute();

  useEffect(() => {
    whenRefused((message) => {
      forgetToken(message);
      setRefused(message);
    });
    const client = portalClient(token);
    (async () => {
      const session = await must(client.GET('/v1/portal/session'));
      const [catalog, appView] = await Promise.all([
        must(client.GET('/v1/event-types', { params: { query: { limit: 250 } } })),
        must(client.GET('/v1/apps/{appId}', { params: { path: { appId: session.appId } } })),
      ]);
      setApp(appView);
      setPortal({ client, token, session, canManage: session.capabilities.includes('manage'), catalog: catalog.items });
    })().catch((err: unknown) => setRefused((r) => r ?? errorText(err)));
  }, [token]);

  if (refused) return <Refused message={refused} />;
  if (!portal) return <p class="boot">Loading…</p>;
  const onCatalog = route[0] === 'catalog';
  return (
    <PortalContext.Provider value={portal}>
      <header class="top">
        <span class="app-name">{app?.name ?? 'Webhooks'}</span>
        <nav aria-label="Portal">
          <a href={href()} aria-current={onCatalog ? undefined : 'page'}>
            Endpoints
          </a>
          <a href={href('catalog')} aria-current={onCatalog ? 'page' : undefined}>
            Event catalog
          </a>
        </nav>
        <span class="muted" data-testid="access">
          {portal.canManage ? 'Manage access' : 'Read-only access'} · until {when(portal.session.expiresAt)} · all times
          UTC
        </span>
      </header>
      <main>
        <Screen route={route} />
      </main>
    </PortalContext.Provider>
  );
}

const started = boot();
const root = document.getElementById('app')!;
render(started.token ? <App token={started.token} /> : <Refused message={started.problem ?? ''} />, root);
