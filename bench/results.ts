/**
 * What a bench run produces: the results docs/performance.md (report.ts) and
 * docs/performance.json (figures.ts) are both written from.
 */
import type { CapacityModel } from './capacity';
import type { KeyCapacity } from './capacity-keys';
import type { ColdStartResult } from './cold-start';
import type { ScenarioId, ScenarioResult } from './cost';
import type { DeployedConfig } from './deployed';
import type { ChangeStep, DesignChange } from './design-changes';
import type { LatencyResult } from './latency';
import type { ThroughputResult } from './throughput';
import type { OrderingResult } from './ordering';

export interface ChangePlan {
  scenario: ScenarioId;
  before: number;
  steps: ChangeStep[];
  after: ScenarioResult;
  /** The lean design, then on provisioned capacity. */
  provisioned: number;
}

export interface BenchResults {
  meta: {
    date: string;
    mode: 'full' | 'quick';
    commit: string;
    node: string;
    cpus: number;
    cpuModel: string;
    loadAverage: [number, number, number];
    sizes: { costDeliveries: number; latencyEvents: number; throughputSeconds: number; coldStartRuns: number };
  };
  deployed: DeployedConfig;
  cost?: { scenarios: ScenarioResult[]; plans: ChangePlan[]; changes: DesignChange[]; provisioned: DesignChange };
  latency?: LatencyResult;
  throughput?: ThroughputResult;
  coldStart?: ColdStartResult;
  /** Ordered delivery: one strict endpoint, many keys (bench/ordering.ts). */
  ordering?: OrderingResult;
  capacity?: { current: CapacityModel; lean: CapacityModel };
  /** The capacity model from counted keys (capacity-keys.ts). */
  keyCapacity?: KeyCapacity;
}
