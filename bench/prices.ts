/**
 * Public AWS list prices the cost benchmark uses: us-east-1, on demand, first pricing tier, no
 * free tier, no Savings Plans. Every figure names the page it comes from and the date it was
 * taken from there, so a reader can check it and a maintainer knows when to look again.
 *
 * The machine that runs the benchmark has no route to aws.amazon.com: these were transcribed by
 * hand, not fetched. When AWS changes a price, change it here (and its `checked` date) and re-run
 * `npm run bench`; nothing else in the benchmark holds a price.
 */

export interface Price {
  /** US dollars per `unit`. */
  usd: number;
  unit: string;
  /** The public page the figure is taken from. */
  source: string;
  /** When the figure was last read from that page (ISO date). */
  checked: string;
  note?: string;
}

const LAMBDA = 'https://aws.amazon.com/lambda/pricing/';
const APIGW = 'https://aws.amazon.com/api-gateway/pricing/';
const SQS = 'https://aws.amazon.com/sqs/pricing/';
const DDB = 'https://aws.amazon.com/dynamodb/pricing/on-demand/';
const EVENTBRIDGE = 'https://aws.amazon.com/eventbridge/pricing/';
const CLOUDWATCH = 'https://aws.amazon.com/cloudwatch/pricing/';
const XRAY = 'https://aws.amazon.com/xray/pricing/';
const EC2_TRANSFER = 'https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer';

/**
 * The date the figures below were last compared with the pages above. DynamoDB's on-demand
 * prices are the ones AWS set on 1 November 2024 (halved from $1.25 / $0.25 per million).
 */
const CHECKED = '2024-11-14';

export const PRICES = {
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    unit: 'GB-second (Arm, first 7.5 billion GB-s a month)',
    source: LAMBDA,
    checked: CHECKED,
    note: 'Billed duration is rounded up to the next millisecond.',
  },
  lambdaRequest: { usd: 0.2 / 1e6, unit: 'request (invocation)', source: LAMBDA, checked: CHECKED },
  apiGatewayHttpRequest: {
    usd: 1.0 / 1e6,
    unit: 'HTTP API request (first 300 million a month)',
    source: APIGW,
    checked: CHECKED,
    note: 'Metered in 512 KB increments: a 600 KB request counts as two.',
  },
  sqsStandardRequest: {
    usd: 0.4 / 1e6,
    unit: 'SQS standard-queue request (first 100 billion a month)',
    source: SQS,
    checked: CHECKED,
    note: 'Each 64 KB chunk of a payload is billed as one request; a batch of up to 10 messages is one request.',
  },
  sqsFifoRequest: {
    usd: 0.5 / 1e6,
    unit: 'SQS FIFO-queue request (the ordered lane)',
    source: SQS,
    checked: CHECKED,
    note: 'Send, receive, delete and change-visibility alike; each 64 KB chunk is one request, a batch of up to 10 one request.',
  },
  dynamoWriteRequestUnit: {
    usd: 0.625 / 1e6,
    unit: 'write request unit (on demand; 1 KB, standard table class)',
    source: DDB,
    checked: CHECKED,
  },
  dynamoReadRequestUnit: {
    usd: 0.125 / 1e6,
    unit: 'read request unit (on demand; 4 KB strongly consistent, or 2 eventually consistent reads)',
    source: DDB,
    checked: CHECKED,
  },
  dynamoProvisionedWcuHour: {
    usd: 0.00065,
    unit: 'provisioned write capacity unit-hour (one 1 KB write a second for an hour)',
    source: 'https://aws.amazon.com/dynamodb/pricing/provisioned/',
    checked: CHECKED,
  },
  dynamoProvisionedRcuHour: {
    usd: 0.00013,
    unit: 'provisioned read capacity unit-hour (one 4 KB strongly consistent read a second for an hour)',
    source: 'https://aws.amazon.com/dynamodb/pricing/provisioned/',
    checked: CHECKED,
  },
  dynamoStorageGbMonth: {
    usd: 0.25,
    unit: 'GB-month of table and index storage (standard class, beyond the first 25 GB)',
    source: DDB,
    checked: CHECKED,
    note: 'Each item is counted with 100 bytes of overhead, in the table and in every index it is projected to.',
  },
  dynamoPitrGbMonth: {
    usd: 0.2,
    unit: 'GB-month of continuous backup (point-in-time recovery), on the table size',
    source: DDB,
    checked: CHECKED,
  },
  eventBridgeCustomEvent: {
    usd: 1.0 / 1e6,
    unit: 'custom event published (PutEvents entry)',
    source: EVENTBRIDGE,
    checked: CHECKED,
    note: 'Each 64 KB chunk of an entry is billed as one event. Delivery to a Lambda target is not charged.',
  },
  cloudWatchLogsIngestGb: {
    usd: 0.5,
    unit: 'GB of logs ingested (standard log class)',
    source: CLOUDWATCH,
    checked: CHECKED,
  },
  cloudWatchCustomMetricMonth: {
    usd: 0.3,
    unit: 'custom metric-month (first 10,000 metrics)',
    source: CLOUDWATCH,
    checked: CHECKED,
    note: 'Metrics published through the embedded metric format are priced per metric and month, not per data point.',
  },
  xrayTraceRecorded: {
    usd: 5.0 / 1e6,
    unit: 'trace recorded',
    source: XRAY,
    checked: CHECKED,
  },
  dataTransferOutGb: {
    usd: 0.09,
    unit: 'GB out from AWS to the internet (first 10 TB a month; the first 100 GB a month are free)',
    source: EC2_TRANSFER,
    checked: CHECKED,
    note: 'Webhook requests leave AWS to the receivers; responses coming in are free.',
  },
} as const satisfies Record<string, Price>;

export type PriceName = keyof typeof PRICES;

/** Chunk sizes AWS bills in. */
export const BILLING_CHUNKS = {
  apiGatewayBytes: 512 * 1024,
  sqsBytes: 64 * 1024,
  eventBridgeBytes: 64 * 1024,
  dynamoWriteBytes: 1024,
  dynamoReadBytes: 4 * 1024,
} as const;

/**
 * X-Ray sampling by Lambda active tracing (the stack sets `Tracing.ACTIVE` on every function):
 * AWS's default rule records the first request each second and 5 % of the others. At the
 * volumes priced here the reservoir is a flat monthly amount (at most one trace a second per
 * function), so the per-delivery figure uses the fixed rate alone.
 */
export const XRAY_DEFAULT_SAMPLING = { reservoirPerSecond: 1, fixedRate: 0.05 } as const;
