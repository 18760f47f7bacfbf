import type { Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import express from 'express';
import { answerClientErrorsAsJson } from '../../src/api/errors';
import { createLimitedServer, DEFAULT_SERVER_LIMITS, type ServerLimits } from '../../src/api/http-server';

// Real sockets against a real server. The machine is shared and noisy: assert generous bounds, not timings.
jest.setTimeout(30_000);
const BOUND_MS = 15_000;
const SHORT: ServerLimits = { ...DEFAULT_SERVER_LIMITS, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, checkIntervalMs: 200 };

let server: Server | undefined;
let sockets: Socket[] = [];

async function start(limits: ServerLimits): Promise<number> {
  const app = express();
  app.all('/', (req, res) => {
    req.resume();
    req.on('end', () => void res.status(200).send('ok'));
  });
  const s = createLimitedServer(app, limits);
  answerClientErrorsAsJson(s); // as the API wires it
  server = s;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as AddressInfo).port;
}

function open(port: number, options: { localAddress?: string; allowHalfOpen?: boolean } = {}) {
  const socket = connect({ host: '127.0.0.1', port, ...options });
  sockets.push(socket);
  const state = { received: '', closed: false, connected: new Promise<void>((r) => socket.once('connect', r)) };
  socket.on('data', (d) => (state.received += d.toString()));
  socket.on('error', () => {}); // a reset by the server is one of the outcomes under test
  socket.on('close', () => (state.closed = true));
  return { socket, state };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = BOUND_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const connections = () => new Promise<number>((resolve, reject) => server!.getConnections((e, n) => (e ? reject(e) : resolve(n))));

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets = [];
  const s = server;
  server = undefined;
  if (s)
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
});

test('a client that sends half a request head and then nothing is answered 408 and disconnected', async () => {
  const port = await start(SHORT);
  const { socket, state } = open(port);
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  await until(() => state.closed, 'client socket closed');
  if (state.received) expect(state.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
});

test('a client that never half-closes after the 408 still loses its socket', async () => {
  // answerClientErrorsAsJson only end()s the socket; without our 'finish' handler the server side stayed open.
  const port = await start(SHORT);
  const { socket, state } = open(port, { allowHalfOpen: true });
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  await until(() => state.received.includes('\r\n\r\n'), '408 received');
  expect(state.received).toMatch(/^HTTP\/1\.1 408 /);
  await until(async () => (await connections()) === 0, 'server closed its socket');
});

test('a client that trickles its body is disconnected before it finishes', async () => {
  const port = await start(SHORT);
  const { socket, state } = open(port);
  await state.connected;
  socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
  let sent = 0;
  const trickle = setInterval(() => {
    if (!socket.writable) return;
    socket.write('a');
    sent++;
  }, 300);
  try {
    await until(() => state.closed, 'client socket closed');
  } finally {
    clearInterval(trickle);
  }
  expect(sent).toBeLessThan(1000);
  if (state.received) expect(state.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
});

test('one address cannot hold more than maxConnectionsPerAddress; others are still served', async () => {
  // Long timeouts: idle sockets are otherwise closed by the header timeout, which would hide the cap.
  const port = await start({ ...DEFAULT_SERVER_LIMITS, maxConnectionsPerAddress: 256, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000 });
  const clients: ReturnType<typeof open>[] = [];
  for (let batch = 0; batch < 10; batch++) {
    const opened = Array.from({ length: 100 }, () => open(port, { localAddress: '127.0.0.2' }));
    await Promise.all(opened.map((c) => Promise.race([c.state.connected, new Promise((r) => c.socket.once('close', r))])));
    clients.push(...opened);
  }
  const destroyed = () => clients.filter((c) => c.state.closed).length;
  await until(() => destroyed() >= 1000 - 256, 'server destroyed the sockets over the cap');

  const res = await fetch(`http://127.0.0.1:${port}/`);
  expect(res.status).toBe(200);
  expect(await res.text()).toBe('ok');

  await new Promise((r) => setTimeout(r, 200)); // let any straggler settle
  expect(clients.length - destroyed()).toBe(256);
});

test('beyond maxConnections the server drops the socket', async () => {
  const port = await start({ ...SHORT, maxConnections: 5, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000 });
  let accepted = 0;
  server!.on('connection', () => accepted++);
  const drops: unknown[] = [];
  server!.on('drop', (d) => drops.push(d));
  const first = [];
  for (let i = 0; i < 5; i++) {
    const c = open(port);
    first.push(c);
    await c.state.connected;
    await until(() => accepted === i + 1, `connection ${i + 1} accepted`);
  }
  const sixth = open(port);
  await until(() => sixth.state.closed, '6th socket closed');
  expect(drops).toHaveLength(1);
  expect(first.every((c) => !c.state.closed)).toBe(true);
});
