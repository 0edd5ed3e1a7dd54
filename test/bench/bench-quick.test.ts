/**
 * The benchmark's cost, latency and cold-start parts, at a small size: they must complete, see
 * every accepted event delivered exactly once, count every line item that a delivery necessarily
 * incurs, and add their lines up to their totals. Behaviour only: no figure is compared with a
 * threshold, and no wall time is asserted.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ScenarioId, ScenarioResult } from '../../bench/cost';
import { unitsPerDelivery } from '../../bench/figures';
import { renderMarkdown, type BenchResults } from '../../bench/report';
import { runBench } from '../../bench/run';

let res: BenchResults;

beforeAll(async () => {
  res = await runBench({
    mode: 'quick',
    parts: ['cost', 'latency', 'cold-start'],
    sizes: { costDeliveries: 20, latencyEvents: 30, latencyRatePerSecond: 20, coldStartRuns: 1 },
    isolate: false,
  });
}, 240_000);

const scenario = (id: ScenarioId): ScenarioResult => {
  const s = res.cost?.scenarios.find((x) => x.id === id);
  if (!s) throw new Error(`no ${id} scenario in the results`);
  return s;
};
const line = (s: ScenarioResult, service: string, item: string | RegExp) =>
  s.lines.filter((l) => l.service === service && (typeof item === 'string' ? l.item === item : item.test(l.item)));
const perMillion = (s: ScenarioResult, service: string, item: string | RegExp) =>
  line(s, service, item).reduce((n, l) => n + l.usdPerMillion, 0);

describe('the quick benchmark (small)', () => {
  it('runs every cost scenario and delivers each accepted event exactly once (twice, first refused, on retry)', () => {
    expect(res.cost?.scenarios.map((s) => s.id)).toEqual([
      'single',
      'singleIds',
      'batch',
      'putevents',
      'fanout',
      'retry',
    ]);
    for (const s of res.cost!.scenarios) {
      expect(s.exactlyOnce, s.id).toMatchObject({ ok: true, missing: 0, duplicates: 0, unexpected: 0 });
      expect(s.deliveries, s.id).toBe(s.events * s.endpointsPerEvent);
    }
    expect(scenario('fanout').endpointsPerEvent).toBe(10);
    expect(scenario('retry').requests).toBe(2 * scenario('retry').deliveries);
  });

  it("adds each scenario's lines up to its total", () => {
    for (const s of res.cost!.scenarios) {
      const sum = s.lines.reduce((n, l) => n + l.usdPerMillion, 0);
      expect(s.totalPerMillion, s.id).toBeCloseTo(sum, 9);
      expect(s.totalPerMillionAt2xDuration, s.id).toBeGreaterThan(s.totalPerMillion);
    }
  });

  it('counts what every delivery necessarily costs', () => {
    for (const s of res.cost!.scenarios) {
      expect(perMillion(s, 'Lambda', 'delivery: requests'), s.id).toBeGreaterThan(0);
      expect(perMillion(s, 'Lambda', /^delivery: compute/), s.id).toBeGreaterThan(0);
      expect(perMillion(s, 'SQS', 'ReceiveMessage (event source)'), s.id).toBeGreaterThan(0);
      expect(perMillion(s, 'SQS', 'DeleteMessageBatch (event source)'), s.id).toBeGreaterThan(0);
      expect(perMillion(s, 'DynamoDB', /^write units: table/), s.id).toBeGreaterThan(0);
      // The open index holds only late or long-waiting work: neither a first-try success nor a
      // 5 s retry soon after its event writes it (housekeeping's trailing reconcile reads the
      // retry back instead: its reads are in the read units).
      expect(perMillion(s, 'DynamoDB', /^write units: index open/), s.id).toBe(0);
      expect(perMillion(s, 'DynamoDB', /^read units/), s.id).toBeGreaterThan(0);
      expect(perMillion(s, 'DynamoDB', /^storage/), s.id).toBeGreaterThan(0);
      expect(perMillion(s, 'CloudWatch', /^Logs/), s.id).toBeGreaterThan(0);
      expect(perMillion(s, 'Data transfer', 'webhooks out to the internet'), s.id).toBeGreaterThan(0);
    }
  });

  it('charges each ingest mode for its own way in, and nothing for the others', () => {
    for (const id of ['single', 'batch', 'fanout', 'retry'] as const) {
      expect(perMillion(scenario(id), 'API Gateway', 'HTTP API requests'), id).toBeGreaterThan(0);
      expect(perMillion(scenario(id), 'SQS', 'SendMessageBatch (api)'), id).toBeGreaterThan(0);
      expect(line(scenario(id), 'EventBridge', /.*/), id).toEqual([]);
    }
    const put = scenario('putevents');
    expect(perMillion(put, 'EventBridge', 'PutEvents custom events')).toBeGreaterThan(0);
    // The rule puts each event on the ingest queue; the ingest function drains it in batches.
    expect(put.functions.ingest.records).toBe(put.events);
    expect(put.functions.ingest.invocations).toBeLessThanOrEqual(put.events);
    expect(perMillion(put, 'SQS', 'SendMessage (rule target)')).toBeCloseTo(0.4, 6);
    expect(perMillion(put, 'SQS', 'ReceiveMessage (event source)')).toBeGreaterThan(0);
    expect(perMillion(put, 'SQS', 'SendMessageBatch (ingest)')).toBeGreaterThan(0);
    expect(line(put, 'API Gateway', /.*/)).toEqual([]);
    // A batch POST of up to 100 events is one API request.
    expect(scenario('batch').api.requests).toBe(Math.ceil(scenario('batch').events / 100));
  });

  it("writes an event once with a generated id, and claims a producer's own id with one more write", () => {
    // Table and index units per delivery, housekeeping's checkpoint writes (once a run) and the
    // activity markers (once per app, minute and container) aside.
    const writes = (s: ScenarioResult) =>
      s.dynamo
        .filter((d) => !d.label.includes('checkpoint') && !d.label.includes('activity marker'))
        .reduce((n, d) => n + d.tableWriteUnits + Object.values(d.indexWriteUnits).reduce((a, b) => a + b, 0), 0) /
      s.deliveries;
    expect(writes(scenario('single'))).toBe(2);
    expect(writes(scenario('singleIds'))).toBe(3);
    // The markers housekeeping reads are written, but never one per event.
    const markers = scenario('single').dynamo.filter((d) => d.label === 'put activity marker');
    expect(markers.reduce((n, d) => n + d.calls, 0)).toBeGreaterThan(0);
    expect(markers.reduce((n, d) => n + d.calls, 0)).toBeLessThan(scenario('single').events);
    expect(unitsPerDelivery(scenario('single')).writes).toBeLessThan(unitsPerDelivery(scenario('singleIds')).writes);
    expect(line(scenario('single'), 'DynamoDB', /^write units: index (?!open)/)).toEqual([]);
  });

  it('counts the retry: a second attempt, and its message through the retry queue', () => {
    const r = scenario('retry');
    expect(r.functions.delivery.records).toBe(2 * r.deliveries);
    expect(perMillion(r, 'SQS', 'SendMessage (delivery)')).toBeGreaterThan(0);
    expect(r.firstTrySuccesses).toBe(0);
    expect(scenario('single').firstTrySuccesses).toBe(scenario('single').deliveries);
  });

  it('prices the design changes on top of each other, ending at the changed total', () => {
    for (const p of res.cost!.plans) {
      const saved = p.steps.reduce((n, s) => n + s.savingPerMillion, 0);
      expect(p.before - saved, p.scenario).toBeCloseTo(p.after.totalPerMillion, 9);
      expect(p.steps.at(-1)?.totalAfter, p.scenario).toBeCloseTo(p.after.totalPerMillion, 9);
    }
  });

  it('measures latency for every event, each delivered exactly once', () => {
    const l = res.latency!;
    expect(l.exactlyOnce).toBe(true);
    expect(l.events).toBe(30);
    expect(l.p50Ms).toBeLessThanOrEqual(l.p95Ms);
    expect(l.p95Ms).toBeLessThanOrEqual(l.p99Ms);
    expect(l.p99Ms).toBeLessThanOrEqual(l.maxMs);
  });

  it('bundles and times each handler, the hello-world yardstick and both zod fixtures', () => {
    const c = res.coldStart!;
    expect(c.handlers.map((h) => h.name)).toEqual(['api', 'delivery', 'ingest', 'housekeeping']);
    for (const b of [...c.handlers, c.zod.classic, c.zod.mini]) {
      expect(b.bytes, b.name).toBeGreaterThan(c.hello.bytes);
      expect(b.initMs, b.name).toBeGreaterThan(0);
      expect(b.initRatio, b.name).toBeCloseTo(b.initMs / c.hello.initMs, 9);
    }
  });

  it('writes a report with every section it measured', () => {
    const md = renderMarkdown(res);
    for (const heading of [
      '## Summary',
      '## 1. Cost per million deliveries',
      '## 2. Latency',
      '## 4. Cold start',
      '## Prices used',
    ]) {
      expect(md).toContain(heading);
    }
    expect(md).not.toContain('## 3. Throughput');
    expect(md).not.toMatch(/NaN|undefined|Infinity/);
  });
});
