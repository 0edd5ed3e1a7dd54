/** Small node:http helpers shared by the local stack's servers. */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalStackError } from './errors';

/** Listens on 127.0.0.1 only: the local stack is never reachable from another machine. */
export function listen(server: Server, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new LocalStackError(`port ${port} is already in use (set PORT to another port)`, { cause: err }));
      } else reject(err);
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve(urlOf(server));
    });
  });
}

export function urlOf(server: Server): string {
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/**
 * Stops accepting connections and resolves once the in-flight requests are answered. Keep-alive
 * sockets (SDK clients, fetch) are closed as soon as they go idle, including those whose request
 * was still running when the close began; a request still running after `graceMs` has its socket
 * destroyed, so stop() always ends.
 */
export function closeServer(server: Server, graceMs = 5_000): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const idle = setInterval(() => server.closeIdleConnections(), 20);
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close((err) => {
      clearInterval(idle);
      clearTimeout(force);
      if (err) reject(err);
      else resolve();
    });
    server.closeIdleConnections();
  });
}

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * Reads a request body up to `limit` bytes. Past the limit it stops buffering but keeps draining
 * the socket, so the client can still read the error response instead of seeing a reset.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    let tooLarge = Number.isFinite(declared) && declared > limit;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => (tooLarge ? reject(new BodyTooLargeError(limit)) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}
