import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Client } from '@temporalio/client';
import { healthRouter } from '../../src/api/health';
import { loadConfig } from '../../src/config';
import { RoundRobinProxy } from '../../src/stack/proxy';

async function serve(handler: http.RequestListener): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('GET /healthz names the part that is down', () => {
  const config = loadConfig({ TEMPORAL_ADDRESS: 'temporal.example:7233', ELEMENTS_USER_SECRET: 'u', ELEMENTS_ORGANIZATION_SECRET: 'o' });
  const fakeClient = (service: { getSystemInfo(): Promise<unknown>; describeTaskQueue(): Promise<unknown> }) =>
    ({ workflowService: service, connection: { withDeadline: (_d: number, fn: () => Promise<unknown>) => fn() } }) as unknown as Client;
  const health = async (client: Client) => {
    const app = express().use(healthRouter({ client, config }));
    const server = await serve(app);
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    } finally {
      await server.close();
    }
  };
  const now = () => ({ seconds: Math.floor(Date.now() / 1000) });

  test('all up: 200 and the same body as before', async () => {
    const res = await health(
      fakeClient({ getSystemInfo: async () => ({}), describeTaskQueue: async () => ({ pollers: [{ lastAccessTime: now() }] }) }),
    );
    expect(res).toEqual({ status: 200, body: { status: 'ok', api: true, temporal: true, worker: true } });
  });

  test('Temporal unreachable', async () => {
    const res = await health(
      fakeClient({
        getSystemInfo: () => Promise.reject(new Error('14 UNAVAILABLE: connection refused')),
        describeTaskQueue: async () => ({}),
      }),
    );
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'unavailable', temporal: false, worker: false, down: ['temporal'] });
    expect((res.body.problems as Record<string, string>).temporal).toMatch(/temporal\.example:7233 did not answer: 14 UNAVAILABLE/);
  });

  test('no worker, or no namespace', async () => {
    const noWorker = await health(fakeClient({ getSystemInfo: async () => ({}), describeTaskQueue: async () => ({ pollers: [] }) }));
    expect(noWorker.body).toMatchObject({ temporal: true, worker: false, down: ['worker'] });
    const noNamespace = await health(
      fakeClient({
        getSystemInfo: async () => ({}),
        describeTaskQueue: () => Promise.reject(new Error('5 NOT_FOUND: Namespace default is not found.')),
      }),
    );
    expect(noNamespace.body).toMatchObject({ temporal: true, worker: false, down: ['namespace'] });
  });
});

describe('the stack’s round-robin proxy', () => {
  test('alternates between the APIs, passes bodies and statuses, and skips one that refuses connections', async () => {
    const seen: string[] = [];
    const backend = (name: string) =>
      serve((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          seen.push(name);
          res.writeHead(201, { 'content-type': 'text/plain', 'x-backend': name }).end(`${name}:${Buffer.concat(chunks).toString()}`);
        });
      });
    const a = await backend('a');
    const b = await backend('b');
    const down = await serve(() => undefined);
    const downPort = down.port;
    await down.close(); // nothing listens there now: connections are refused
    const proxy = new RoundRobinProxy([a.port, downPort, b.port]);
    const port = await proxy.listen(0);
    try {
      const bodies: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/x`, { method: 'POST', body: `n${i}` });
        expect(res.status).toBe(201);
        bodies.push(await res.text());
      }
      expect(bodies).toEqual(['a:n0', 'b:n1', 'a:n2', 'b:n3']);
      expect(proxy.served.get(a.port)).toBe(2);
      expect(proxy.served.get(b.port)).toBe(2);
    } finally {
      await proxy.close();
      await a.close();
      await b.close();
    }
  });
});
