/**
 * A webhook receiver for trying hookrelay by hand: prints every webhook it gets and, when
 * WEBHOOK_SECRET is set, verifies its Standard Webhooks signature the way a consumer should.
 *
 *   WEBHOOK_SECRET=whsec_... npm run receiver          (listens on 127.0.0.1:4000)
 *   RECEIVER_STATUS=500 npm run receiver               (answers 500, to watch the retries)
 */
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const port = Number(process.env.RECEIVER_PORT ?? 4000);
const status = Number(process.env.RECEIVER_STATUS ?? 200);
const secret = process.env.WEBHOOK_SECRET;
const verifier = secret ? new Webhook(secret) : undefined;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    let verdict = 'signature not checked (set WEBHOOK_SECRET)';
    if (verifier) {
      try {
        verifier.verify(body, headers);
        verdict = 'signature valid';
      } catch (err) {
        verdict = `signature INVALID: ${(err as Error).message}`;
      }
    }
    console.log(
      `${new Date().toISOString()} ${req.method} ${req.url}  webhook-id=${headers['webhook-id']}  ${verdict}`,
    );
    console.log(`  ${body}`);
    res.writeHead(status, { 'content-type': 'text/plain' }).end(`status ${status}`);
  });
});

server.listen(port, '127.0.0.1', () => console.log(`receiver on http://127.0.0.1:${port}, answering ${status}`));
process.on('SIGINT', () => server.close(() => process.exit(0)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
