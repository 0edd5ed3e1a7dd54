/**
 * The one retry loop for batch APIs (DynamoDB BatchGet/BatchWrite, SQS SendMessageBatch): send
 * `items` in chunks of `size`, and send again, with exponential backoff, whatever a send hands
 * back as not done, until nothing is left or `rounds` sends of a chunk have failed it.
 */
export async function sendInBatches<T>(
  items: readonly T[],
  opts: { size: number; rounds: number; backoffMs: number; what: string },
  send: (chunk: T[]) => Promise<T[]>,
): Promise<void> {
  for (let i = 0; i < items.length; i += opts.size) {
    let pending = items.slice(i, i + opts.size);
    for (let round = 0; pending.length > 0; round++) {
      if (round >= opts.rounds) throw new Error(`${opts.what}: ${pending.length} request(s) kept failing`);
      if (round > 0) await new Promise((r) => setTimeout(r, opts.backoffMs * 2 ** round));
      pending = await send(pending);
    }
  }
}
