/**
 * The statistics' charts, drawn as plain SVG from the stats route's `series` (no chart library:
 * two small charts do not need 40+ KB of one). Bars stack each bucket's deliveries by status;
 * a line shows the latency of its successes. The SVG holds shapes only and stretches to its box;
 * every label is HTML beside it, so text stays readable at any width. Each bar has a tooltip,
 * and the figures are also a table, for a screen reader or a closer look.
 */
import type { Schemas } from './api';

type Series = Schemas['EndpointStats']['series'];
type Point = Series['points'][number];

/** The statuses a bar stacks, bottom up, with their labels. */
const LAYERS = [
  { key: 'succeeded', label: 'Succeeded' },
  { key: 'failed', label: 'Failed' },
  { key: 'retrying', label: 'Retrying' },
  { key: 'pending', label: 'Pending' },
  { key: 'skipped', label: 'Skipped' },
] as const;

const W = 600;
const H = 120;

/** A bucket's start as people read it: the date for day-wide buckets, else the time, with its date past an hour's window. */
function label(at: string, bucketSeconds: number): string {
  const iso = at.replace('T', ' ').slice(0, 16);
  return bucketSeconds >= 86_400 ? iso.slice(0, 10) : bucketSeconds >= 1800 ? iso.slice(5) : iso.slice(11);
}

/** A round ceiling for an axis: 1, 2, 5, 10, 20, 50... */
function niceMax(n: number): number {
  if (n <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(n));
  return ([1, 2, 5, 10].find((m) => m * step >= n) ?? 10) * step;
}

const total = (p: Point) => LAYERS.reduce((n, l) => n + p[l.key], 0);

function span(s: Series): string {
  const w = s.bucketSeconds;
  return w >= 86_400 ? `${w / 86_400} day` : w >= 3600 ? `${w / 3600} h` : `${w / 60} min`;
}

function Axis({ s }: { s: Series }) {
  const pts = s.points;
  if (pts.length === 0) return null;
  const mid = pts[Math.floor(pts.length / 2)]!;
  return (
    <div class="chart-x" aria-hidden="true">
      <span>{label(pts[0]!.at, s.bucketSeconds)}</span>
      <span>{label(mid.at, s.bucketSeconds)}</span>
      <span>{label(pts.at(-1)!.at, s.bucketSeconds)} UTC</span>
    </div>
  );
}

export function DeliveriesChart({ series }: { series: Series }) {
  const pts = series.points;
  const top = niceMax(Math.max(0, ...pts.map(total)));
  const bw = W / Math.max(1, pts.length);
  const sum = Object.fromEntries(LAYERS.map((l) => [l.key, pts.reduce((n, p) => n + p[l.key], 0)]));
  const summary = LAYERS.filter((l) => sum[l.key]! > 0)
    .map((l) => `${sum[l.key]} ${l.label.toLowerCase()}`)
    .join(', ');
  return (
    <figure class="chart" data-testid="deliveries-chart">
      <figcaption>
        Deliveries over time <span class="muted">(each bar {span(series)}, by event time)</span>
      </figcaption>
      <div class="chart-body">
        <div class="chart-y" aria-hidden="true">
          <span>{top}</span>
          <span>0</span>
        </div>
        <svg
          viewBox={`0 0 ${W} ${H}`}
          preserveAspectRatio="none"
          role="img"
          aria-label={`Deliveries over time: ${summary || 'none'}`}
        >
          <line class="chart-grid" x1="0" x2={W} y1={H / 2} y2={H / 2} />
          {pts.map((p, i) => {
            let y = H;
            const tip = `${label(p.at, series.bucketSeconds)} UTC: ${
              LAYERS.filter((l) => p[l.key] > 0)
                .map((l) => `${p[l.key]} ${l.label.toLowerCase()}`)
                .join(', ') || 'no deliveries'
            }`;
            return (
              <g key={p.at} data-at={p.at}>
                <title>{tip}</title>
                <rect class="chart-hit" x={i * bw} y={0} width={bw} height={H} />
                {LAYERS.map((l) => {
                  const h = (p[l.key] / top) * H;
                  if (h <= 0) return null;
                  y -= h;
                  return (
                    <rect
                      key={l.key}
                      class={`bar bar-${l.key}`}
                      x={i * bw + bw * 0.1}
                      y={y}
                      width={bw * 0.8}
                      height={h}
                    />
                  );
                })}
              </g>
            );
          })}
        </svg>
      </div>
      <Axis s={series} />
      <ul class="legend">
        {LAYERS.filter((l) => l.key === 'succeeded' || l.key === 'failed' || sum[l.key]! > 0).map((l) => (
          <li key={l.key}>
            <span class={`swatch bar-${l.key}`} aria-hidden="true" /> {l.label} {sum[l.key]}
          </li>
        ))}
      </ul>
    </figure>
  );
}

export function LatencyChart({ series }: { series: Series }) {
  const pts = series.points;
  const values = pts.flatMap((p) => [p.latencyMs.p50, p.latencyMs.p95]).filter((v): v is number => v !== null);
  if (values.length === 0) {
    return (
      <figure class="chart" data-testid="latency-chart">
        <figcaption>Latency</figcaption>
        <p class="muted">No successful delivery in this window.</p>
      </figure>
    );
  }
  const top = niceMax(Math.max(...values));
  const bw = W / Math.max(1, pts.length);
  /** A line through the buckets that have a value; a gap where one has none. */
  const path = (pick: (p: Point) => number | null) => {
    let d = '';
    let open = false;
    pts.forEach((p, i) => {
      const v = pick(p);
      if (v === null) {
        open = false;
        return;
      }
      const x = i * bw + bw / 2;
      const y = H - (v / top) * H;
      // A lone point gets a stub, which the round line cap turns into a dot.
      d += open ? `L${x.toFixed(1)},${y.toFixed(1)} ` : `M${x.toFixed(1)},${y.toFixed(1)} l0.01,0 `;
      open = true;
    });
    return d.trim();
  };
  const ms = (v: number | null) => (v === null ? '—' : `${Math.round(v)} ms`);
  return (
    <figure class="chart" data-testid="latency-chart">
      <figcaption>
        Latency of successful attempts <span class="muted">(ms)</span>
      </figcaption>
      <div class="chart-body">
        <div class="chart-y" aria-hidden="true">
          <span>{top}</span>
          <span>0</span>
        </div>
        <svg
          viewBox={`0 0 ${W} ${H}`}
          preserveAspectRatio="none"
          role="img"
          aria-label={`Latency: p95 up to ${Math.round(Math.max(...values))} ms`}
        >
          <line class="chart-grid" x1="0" x2={W} y1={H / 2} y2={H / 2} />
          <path class="line line-p95" d={path((p) => p.latencyMs.p95)} />
          <path class="line line-p50" d={path((p) => p.latencyMs.p50)} />
          {pts.map((p, i) => (
            <rect key={p.at} class="chart-hit" x={i * bw} y={0} width={bw} height={H}>
              <title>{`${label(p.at, series.bucketSeconds)} UTC: p50 ${ms(p.latencyMs.p50)}, p95 ${ms(p.latencyMs.p95)}`}</title>
            </rect>
          ))}
        </svg>
      </div>
      <Axis s={series} />
      <ul class="legend">
        <li>
          <span class="swatch line-p50" aria-hidden="true" /> p50
        </li>
        <li>
          <span class="swatch line-p95" aria-hidden="true" /> p95
        </li>
      </ul>
    </figure>
  );
}

/** The series as a table: every bucket that had deliveries. */
export function SeriesTable({ series }: { series: Series }) {
  const rows = series.points.filter((p) => total(p) > 0);
  return (
    <details class="series-table">
      <summary>The figures as a table</summary>
      {rows.length === 0 ? (
        <p class="muted">No deliveries in this window.</p>
      ) : (
        <table>
          <caption class="sr-only">Deliveries and latency by time, UTC</caption>
          <thead>
            <tr>
              <th scope="col">From (UTC)</th>
              {LAYERS.map((l) => (
                <th scope="col" key={l.key}>
                  {l.label}
                </th>
              ))}
              <th scope="col">p50</th>
              <th scope="col">p95</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((p) => (
              <tr key={p.at}>
                <td data-label="From (UTC)">{p.at.replace('T', ' ').slice(0, 16)}</td>
                {LAYERS.map((l) => (
                  <td key={l.key} data-label={l.label}>
                    {p[l.key]}
                  </td>
                ))}
                <td data-label="p50">{p.latencyMs.p50 === null ? '—' : `${Math.round(p.latencyMs.p50)} ms`}</td>
                <td data-label="p95">{p.latencyMs.p95 === null ? '—' : `${Math.round(p.latencyMs.p95)} ms`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </details>
  );
}
