import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type express from 'express';

/** Listens on a loopback port (an ephemeral one by default). */
export async function listenOnFreePort(app: express.Express, port = 0): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Re-exported: tests and the app pick free ports one way. */
export { freePort } from '../../src/temporal/dev-server';
