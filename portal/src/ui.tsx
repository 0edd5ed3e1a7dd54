/** Small shared pieces: the portal's context, time formatting, badges, notices, the hash router. */
import { createContext, type ComponentChildren } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { HookrelayClient } from '../../client';
import { ApiFailure, type Detail, type Schemas } from './api';

export interface Portal {
  client: HookrelayClient;
  token: string;
  session: Schemas['PortalSession'];
  canManage: boolean;
  catalog: Schemas['EventType'][];
}

export const PortalContext = createContext<Portal | null>(null);

export function usePortal(): Portal {
  const p = useContext(PortalContext);
  if (!p) throw new Error('usePortal outside the portal');
  return p;
}

/** The route: the fragment after `#/`, split into segments. */
export function useRoute(): string[] {
  const read = () =>
    location.hash
      .replace(/^#\/?/, '')
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    // The fragment may have changed between the first render and this effect (a link followed
    // while the page was starting): read it again now, not only on the next change.
    on();
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export const href = (...segments: string[]) => `#/${segments.map(encodeURIComponent).join('/')}`;

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  return iso
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z')
    .replace('Z', ' UTC');
}

/**
 * A `datetime-local` field's value read as UTC (every time on the page is UTC, and the fields
 * say so): `2026-12-04T09:30` is 09:30 UTC wherever the browser is.
 */
export function utcToIso(value: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) return undefined;
  const at = new Date(`${value.length === 16 ? `${value}:00` : value}Z`);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}

/** The `datetime-local` value (UTC) of a time. */
export const isoToUtcInput = (at: Date) => at.toISOString().slice(0, 16);

/** "3 min ago", "5 h ago": how long ago a time was, for a glance (the exact time is its title). */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}

/** A screen's title, focused when the screen opens so a keyboard or screen-reader user lands there. */
export function Title({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}

/** A line under a form or a panel: what happened, or what the API refused and why, field by field. */
export type Notice = { kind: 'ok' | 'error'; text: string; details?: Detail[] } | null;

/** The notice for a failure: the API's message and each of its `details`. */
export function failed(err: unknown): Notice {
  return { kind: 'error', text: errorText(err), details: err instanceof ApiFailure ? err.details : [] };
}

function Details({ details }: { details: Detail[] | undefined }) {
  if (!details || details.length === 0) return null;
  return (
    <ul class="details">
      {details.map((d) => (
        <li key={`${d.path}:${d.message}`}>
          {d.path && d.path !== '(body)' && <code>{d.path}</code>} {d.message}
        </li>
      ))}
    </ul>
  );
}

export function NoticeLine({ notice }: { notice: Notice }) {
  if (!notice) return <p class="notice" role="status" aria-live="polite" />;
  return (
    <div class={`notice notice-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'} aria-live="polite">
      <p>{notice.text}</p>
      <Details details={notice.details} />
    </div>
  );
}

/** A screen or panel that could not load: the API's message and details. */
export function Alert({ failure }: { failure: Notice }) {
  if (!failure) return null;
  return (
    <div class="notice notice-error" role="alert">
      <p>{failure.text}</p>
      <Details details={failure.details} />
    </div>
  );
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Loads with `load` whenever `deps` change; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: Notice; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (err: unknown) => live && setState({ error: failed(err), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class="json" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** Flow control's state of an endpoint: `normal`, `throttled` to a rate, or `paused` by the breaker. */
export type Throttle = Schemas['Endpoint']['throttle'];

/** What flow control is doing to an endpoint, in a word and a line; nothing when it is normal. */
export function ThrottleNote({ throttle }: { throttle: Throttle | undefined }) {
  // Read defensively: an older API's endpoint view has no `throttle`.
  if (!throttle || throttle.state === 'normal') return null;
  const rate = throttle.perSecond === undefined ? '' : ` to ${throttle.perSecond}/s`;
  const until = throttle.until ? ` until ${when(throttle.until)}` : '';
  return (
    <div data-testid="throttle">
      <span class={`badge badge-${throttle.state}`}>{throttle.state}</span>{' '}
      <span class="muted">
        {throttle.state === 'paused' ? `Deliveries wait${until}; a probe resumes them.` : `Slowed${rate}${until}.`}
        {throttle.reason ? ` ${throttle.reason}` : ''}
      </span>
    </div>
  );
}

/** A success rate as people read it, with the colour that says whether it is healthy. */
export function Rate({ rate }: { rate: number | null }) {
  if (rate === null) return <span class="muted">—</span>;
  const tone = rate >= 0.99 ? 'good' : rate >= 0.9 ? 'fair' : 'poor';
  const text = rate === 1 ? '100 %' : `${(Math.floor(rate * 1000) / 10).toFixed(1)} %`;
  return <span class={`rate rate-${tone}`}>{text}</span>;
}
