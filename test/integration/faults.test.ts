import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startDevServer, type DevServer, type DevServerOptions } from '../../src/temporal/dev-server';
import type { CallbackSink } from '../fakes/callback-sink';
import { freshbooksSignature, IDENTITY_ID } from '../fakes/freshbooks';
import { freePort } from '../fakes/http-server';
import { call, createInstance, freshbooksSeedBody, insightlySeedBody, sleep, startStack, type Stack, waitForVerified } from './harness';

/**
 * Fault injection on a real Temporal with real HTTP: a worker SIGKILLed mid-delivery, the Temporal
 * server SIGKILLed and restarted on the same database (during a poll, and during webhook ingest), a
 * callback down for more than four retries, and a provider answering 500 and 429. Each test ends
 * with the line `sent N, delivered N, duplicated N (same eventId only), lost N`.
 */

jest.setTimeout(150_000);

const FAST = '0.02'; // minutes between polls: 1.2 s

// --- helpers -----------------------------------------------------------------------------------

interface Tally {
  sent: number;
  delivered: number;
  duplicated: number;
  lost: number;
  lostIds: string[];
  /** Deliveries of an object under an eventId other than its first delivery's. */
  otherEventId: { objectId: string; first: string; again: string }[];
}

/**
 * Counts what the sink accepted for `sent` objects of one instance: each object's first delivery,
 * its further deliveries (which must repeat the first's eventId) and the objects never delivered.
 */
function tally(label: string, sink: CallbackSink, instanceId: number, sent: Iterable<string>): Tally {
  const expected = new Set(sent);
  const firstEventId = new Map<string, string>();
  const otherEventId: Tally['otherEventId'] = [];
  let deliveries = 0;
  for (const r of sink.accepted()) {
    if (r.body.message.instanceId !== instanceId) continue;
    for (const e of r.body.message.events) {
      if (!expected.has(e.objectId)) continue;
      deliveries++;
      const first = firstEventId.get(e.objectId);
      if (first === undefined) firstEventId.set(e.objectId, r.body.message.eventId);
      else if (first !== r.body.message.eventId) otherEventId.push({ objectId: e.objectId, first, again: r.body.message.eventId });
    }
  }
  const lostIds = [...expected].filter((id) => !firstEventId.has(id));
  const t: Tally = {
    sent: expected.size,
    delivered: firstEventId.size,
    // Repeats under the first delivery's eventId; repeats under another one are listed apart.
    duplicated: deliveries - firstEventId.size - otherEventId.length,
    lost: lostIds.length,
    lostIds,
    otherEventId,
  };
  console.log(`${label}: sent ${t.sent}, delivered ${t.delivered}, duplicated ${t.duplicated} (same eventId only), lost ${t.lost}`);
  if (otherEventId.length) {
    const ids = new Set(otherEventId.map((o) => o.again));
    console.log(
      `${label}: ${otherEventId.length} object(s) delivered again under a second eventId (${ids.size} notification(s)), ` +
        `e.g. ${JSON.stringify(otherEventId.slice(0, 3))}`,
    );
  }
  if (lostIds.length) console.log(`${label}: lost objects ${lostIds.slice(0, 20).join(', ')}`);
  return t;
}

function expectNothingLostOrReIdentified(t: Tally): void {
  expect(t.lostIds).toEqual([]);
  expect(t.lost).toBe(0);
  expect(t.otherEventId).toEqual([]);
}

/** Distinct objects of one instance the sink has accepted, among `ids`. */
function deliveredCount(sink: CallbackSink, instanceId: number, ids: Set<string>): number {
  const seen = new Set<string>();
  for (const r of sink.accepted()) {
    if (r.body.message.instanceId !== instanceId) continue;
    for (const e of r.body.message.events) if (ids.has(e.objectId)) seen.add(e.objectId);
  }
  return seen.size;
}

/** One Insightly instance polling only contacts, every 1.2 s. */
function contactsOnly(callbackUrl: string) {
  const body = insightlySeedBody({ callbackUrl, refreshInterval: FAST });
  body.configuration['event.poller.configuration'] = {
    contacts: { url: "/hubs/crm/contacts?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss}'", idField: 'CONTACT_ID' },
  } as never;
  return body;
}

interface Attempt {
  eventId: string;
  at: number;
  /** What the caller (the worker) was answered; 0 when it had gone before the answer. */
  answered: number;
  forwarded: boolean;
}

/**
 * A real HTTP front for the callback sink: holds each request `delayMs`, answers it itself when
 * `decide` returns a status, otherwise forwards it (headers and exact bytes) to the sink and
 * answers with the sink's status. Forwarding happens even when the caller has gone: a receiver
 * that already started processing a request finishes it.
 */
class CallbackFront {
  url = '';
  delayMs = 0;
  inFlight = 0;
  /** The attempts waiting for their answer right now. */
  readonly pending = new Set<Attempt>();
  readonly attempts: Attempt[] = [];
  private readonly perEvent = new Map<string, number>();
  private server?: http.Server;

  constructor(
    private readonly target: string,
    private readonly decide: (eventId: string, attempt: number) => number | undefined = () => undefined,
  ) {}

  attemptsOf(eventId: string): Attempt[] {
    return this.attempts.filter((a) => a.eventId === eventId);
  }

  async waitInFlight(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight < n) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${n} requests in flight`);
      await sleep(20);
    }
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/callback`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const eventId = String(req.headers['elements-webhook-id'] ?? '');
    const n = (this.perEvent.get(eventId) ?? 0) + 1;
    this.perEvent.set(eventId, n);
    const attempt: Attempt = { eventId, at: Date.now(), answered: 0, forwarded: false };
    this.attempts.push(attempt);
    this.inFlight++;
    this.pending.add(attempt);
    try {
      if (this.delayMs) await sleep(this.delayMs);
      let status = this.decide(eventId, n);
      if (status === undefined) {
        const headers: Record<string, string> = {};
        for (const h of ['content-type', 'user-agent', 'elements-webhook-id', 'elements-webhook-signature']) {
          const v = req.headers[h];
          if (typeof v === 'string') headers[h] = v;
        }
        const answer = await fetch(this.target, { method: 'POST', headers, body });
        await answer.arrayBuffer();
        status = answer.status;
        attempt.forwarded = true;
      }
      if (!res.destroyed && !req.socket.destroyed) {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: status < 300 }));
        attempt.answered = status;
      }
    } catch {
      if (!res.headersSent && !res.destroyed) res.writeHead(502).end();
    } finally {
      this.inFlight--;
      this.pending.delete(attempt);
    }
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

/** A Temporal dev server of the test's own, which can be SIGKILLed and restarted on its database. */
class OwnTemporal {
  private server?: DevServer;
  private constructor(private readonly opts: DevServerOptions) {}

  static async start(): Promise<OwnTemporal> {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'element-events-faults-'));
    const own = new OwnTemporal({ port: await freePort(), uiPort: 0, headless: true, dataDir, namespace: 'default' });
    own.server = await startDevServer(own.opts);
    return own;
  }

  get address(): string {
    return `127.0.0.1:${this.opts.port}`;
  }

  get running(): boolean {
    const child = this.server?.process;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    const child = this.server!.process;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** Starts again with the same port and database; resolves when the frontend answers. */
  async restart(): Promise<number> {
    const started = Date.now();
    this.server = await startDevServer(this.opts);
    return Date.now() - started;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    rmSync(this.opts.dataDir, { recursive: true, force: true });
  }
}

/** A correctly signed FreshBooks webhook posted straight to the receiver, with no client timeout. */
async function postWebhookWithoutTimeout(
  freshbooks: Stack['freshbooks'],
  instanceId: number,
  event: string,
  objectId: number,
): Promise<{ status: number; ms: number }> {
  const cb = freshbooks.callbacks().find((c) => c.event === event && c.uri.endsWith(`/events/freshbooksv2/${instanceId}`))!;
  const business = freshbooks.businesses[0]!;
  const fields: [string, string][] = [
    ['name', event],
    ['object_id', String(objectId)],
    ['account_id', business.account_id],
    ['business_id', String(business.id)],
    ['identity_id', String(IDENTITY_ID)],
    ['user_id', '1'],
  ];
  const started = Date.now();
  try {
    const res = await fetch(cb.uri, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-freshbooks-hmac-sha256': freshbooksSignature(fields, cb.verifier),
      },
      body: new URLSearchParams(fields).toString(),
    });
    await res.arrayBuffer();
    return { status: res.status, ms: Date.now() - started };
  } catch {
    return { status: 0, ms: Date.now() - started };
  }
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}

// --- 1. the worker SIGKILLed while deliveries are in flight ---------------------------------------

describe('a worker SIGKILLed while deliveries are in flight', () => {
  let stack: Stack;
  let front: CallbackFront;
  beforeAll(async () => {
    stack = await startStack({ worker: 'none' });
    const refused = new Set<string>();
    front = new CallbackFront(stack.sink.url, (eventId, attempt) => {
      if (attempt !== 1 || (refused.size >= 2 && !refused.has(eventId))) return undefined;
      refused.add(eventId);
      return 500;
    });
    await front.start();
  });
  afterAll(async () => {
    await front?.stop();
    await stack?.stop();
  });

  test('after a restart everything is delivered; repeats carry the first eventId', async () => {
    const { insightly, sink } = stack;
    let worker = await stack.spawnWorker();
    const { id } = await createInstance(stack, contactsOnly(front.url));
    await sleep(1100);
    const sent = new Set<string>();
    const create = (n: number) => {
      for (let i = 0; i < n; i++) sent.add(String(insightly.create('Contacts', { FIRST_NAME: `c${sent.size}` }).CONTACT_ID));
    };

    // A slow callback (1.5 s an answer) that refuses the first attempt of the first two
    // notifications: at the kill, those two wait for their retry and later ones are in flight.
    front.delayMs = 1500;
    create(25);
    await sink.waitFor(() => front.attempts.filter((a) => a.answered).length >= 3, 60_000, 'the first notifications answered');
    create(15);
    await front.waitInFlight(1, 30_000);
    const inFlightAtKill = [...front.pending];
    const refusedAtKill = front.attempts.filter((a) => a.answered === 500).length;
    await killed(worker);
    expect(worker.signalCode).toBe('SIGKILL');
    create(10); // changed while no worker runs
    await sleep(1000);
    worker = await stack.spawnWorker();
    front.delayMs = 200;
    create(10);

    await sink.waitFor(() => deliveredCount(sink, id, sent) >= sent.size, 100_000, `all ${sent.size} contacts after the restart`);
    // The attempts the kill cut off are retried once Temporal times them out (40 s): their
    // notifications, accepted by the callback after the worker had gone, arrive a second time.
    await sink.waitFor(
      () => inFlightAtKill.every((a) => front.attempts.some((b) => b.eventId === a.eventId && b.at > a.at && b.answered === 200)),
      70_000,
      'the retries of the attempts cut off by the kill',
    );
    await sleep(1000);
    console.log(
      `worker SIGKILL: ${inFlightAtKill.length} request(s) in flight and ${refusedAtKill} refused (waiting for a retry) at the kill; ` +
        `${front.attempts.length} attempts, ${front.attempts.filter((a) => a.forwarded && a.answered === 0).length} ` +
        'accepted by the callback after the worker had gone',
    );
    const t = tally('worker SIGKILL during delivery', sink, id, sent);
    expectNothingLostOrReIdentified(t);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });
});

// --- 2. the Temporal server SIGKILLed and restarted on the same database ---------------------------

describe('the Temporal server SIGKILLed and restarted on the same database', () => {
  let temporal: OwnTemporal;
  let stack: Stack;
  beforeAll(async () => {
    temporal = await OwnTemporal.start();
    stack = await startStack({ temporalAddress: temporal.address });
  });
  afterAll(async () => {
    // The stack's worker and clients are closed while the server is up; then the server goes.
    if (temporal && !temporal.running) await temporal.restart();
    await stack?.stop();
    await temporal?.stop();
  });

  test('during a poll: changes before, during and after the outage are all delivered', async () => {
    const { insightly, sink } = stack;
    const { id } = await createInstance(stack, contactsOnly(sink.url));
    await sleep(1100);
    const sent = new Set<string>();
    const create = (n: number) => {
      for (let i = 0; i < n; i++) sent.add(String(insightly.create('Contacts', { FIRST_NAME: `c${sent.size}` }).CONTACT_ID));
    };
    create(10);
    await sink.waitFor(() => deliveredCount(sink, id, sent) >= 10, 30_000, 'the first 10 contacts');

    // The next search of contacts kills the server: that poll is in flight, with 5 changes to hand off.
    let killAt = 0;
    insightly.beforeSearch = (c) => {
      if (!killAt && c.object === 'Contacts') {
        killAt = Date.now();
        temporal.kill().catch(() => undefined);
      }
    };
    create(5);
    await sink.waitFor(() => killAt > 0, 20_000, 'a poll to kill');
    insightly.beforeSearch = undefined;
    for (let i = 0; i < 4; i++) {
      create(3); // changes while Temporal is down
      await sleep(2000);
    }
    const restartMs = await temporal.restart();
    const downMs = Date.now() - killAt;
    create(5);
    await sleep(3000);
    create(5);

    await sink.waitFor(() => deliveredCount(sink, id, sent) >= sent.size, 100_000, `all ${sent.size} contacts after the restart`);
    const deliveredAfterMs = Date.now() - killAt;
    await sleep(2500);
    const view = await call(stack, 'GET', `/instances/${id}`);
    console.log(
      `temporal SIGKILL during a poll: down ${downMs} ms (restart took ${restartMs} ms); all delivered ${deliveredAfterMs} ms after the kill; ` +
        `${insightly.searchCalls('Contacts').filter((c) => c.at >= killAt).length} searches since; instance status ${JSON.stringify(view.body?.status)}`,
    );
    const t = tally('temporal SIGKILL during polling', sink, id, sent);
    expectNothingLostOrReIdentified(t);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });

  test('during webhook ingest: every webhook FreshBooks sends until accepted is delivered', async () => {
    const { freshbooks, sink } = stack;
    const created = await createInstance(stack, freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url }));
    const ours = () => freshbooks.callbacks().filter((c) => c.uri.endsWith(`/events/freshbooksv2/${created.id}`));
    await sink.waitFor(() => ours().filter((c) => c.verified).length === 18, 30_000, 'verified callbacks');
    await waitForVerified(stack, created.id, 18);

    // FreshBooks' contract: a webhook not answered 2xx is sent again until it is. (The fake gives
    // up on an answer after 10 s; a webhook the receiver records after that is sent again, and
    // must not reach the callback a second time under a new eventId.)
    const statusesSeen = new Map<number, number>();
    let resends = 0;
    const sendUntilAccepted = async (objectId: number): Promise<void> => {
      const deadline = Date.now() + 120_000;
      for (let attempt = 0; ; attempt++) {
        const statuses = await freshbooks.sendWebhook('invoice.update', objectId);
        for (const s of statuses) statusesSeen.set(s, (statusesSeen.get(s) ?? 0) + 1);
        if (statuses.length > 0 && statuses.every((s) => s === 200)) return;
        if (Date.now() > deadline) throw new Error(`webhook ${objectId} not accepted within 120 s: last ${JSON.stringify(statuses)}`);
        resends++;
        await sleep(250);
      }
    };

    // A steady stream of webhooks, one every 150 ms, across before, during and after the outage.
    const sent = new Set<string>();
    const senders: Promise<void>[] = [];
    let streaming = true;
    const stream = (async () => {
      for (let n = 0; streaming; n++) {
        const objectId = 50_000 + n;
        sent.add(String(objectId));
        senders.push(sendUntilAccepted(objectId));
        await sleep(150);
      }
    })();
    await sleep(2500);
    const killAt = Date.now();
    await temporal.kill(); // webhooks are in flight into the receiver now
    await sleep(1000);
    // How the receiver answers during the outage when the sender does not give up after 10 s.
    const probeId = 49_999;
    const probe = postWebhookWithoutTimeout(freshbooks, created.id, 'invoice.update', probeId);
    await sleep(7000);
    const restartMs = await temporal.restart();
    const downMs = Date.now() - killAt;
    await sleep(2500);
    streaming = false;
    await stream;
    await Promise.all(senders);
    const acceptedAfterMs = Date.now() - killAt;
    const probed = await probe;
    sent.add(String(probeId));
    if (probed.status !== 200) await sendUntilAccepted(probeId);

    await sink.waitFor(() => deliveredCount(sink, created.id, sent) >= sent.size, 60_000, `all ${sent.size} webhooks delivered`);
    const deliveredAfterMs = Date.now() - killAt;
    await sleep(2500);
    const view = await call(stack, 'GET', `/instances/${created.id}`);
    console.log(
      `temporal SIGKILL during webhook ingest: down ${downMs} ms (restart took ${restartMs} ms); ${resends} resends; ` +
        `all accepted ${acceptedAfterMs} ms and delivered ${deliveredAfterMs} ms after the kill; ` +
        `a webhook posted 1 s into the outage with no client timeout was answered ${probed.status} after ${probed.ms} ms; ` +
        `receiver answers ${JSON.stringify(Object.fromEntries(statusesSeen))}; webhooks ${JSON.stringify(view.body?.status?.webhooks)}`,
    );
    const t = tally('temporal SIGKILL during webhook ingest', sink, created.id, sent);
    expectNothingLostOrReIdentified(t);
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });
});

// --- 3 and 4. the callback down, then the provider failing ----------------------------------------

describe('a callback down for more than four retries, and a provider answering 500 and 429', () => {
  let stack: Stack;
  beforeAll(async () => {
    // First retry after 0.1 s, then ×4: 0.1, 0.4, 1.6, 6.4, 25.6 s.
    stack = await startStack({ env: { DELIVERY_FIRST_RETRY_SECONDS: '0.1' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('503 for the first five attempts of each notification, then 200: each delivered once, after its sixth attempt', async () => {
    const { insightly, sink } = stack;
    const front = new CallbackFront(sink.url, (_eventId, attempt) => (attempt <= 5 ? 503 : undefined));
    await front.start();
    try {
      const { id } = await createInstance(stack, contactsOnly(front.url));
      await sleep(1100);
      const sent = new Set<string>();
      const create = (n: number) => {
        for (let i = 0; i < n; i++) sent.add(String(insightly.create('Contacts', { FIRST_NAME: `c${sent.size}` }).CONTACT_ID));
      };
      create(15);
      await sleep(2500);
      create(12);

      // The shortened schedule must be in effect, or this test would need about seven minutes.
      await sink.waitFor(() => front.attempts.some((a) => front.attemptsOf(a.eventId).length >= 2), 15_000, 'a first retry');
      const firstRetried = front.attempts.find((a) => front.attemptsOf(a.eventId).length >= 2)!.eventId;
      const [a1, a2] = front.attemptsOf(firstRetried);
      const firstGap = a2!.at - a1!.at;
      if (firstGap > 2000) {
        throw new Error(
          `DELIVERY_FIRST_RETRY_SECONDS=0.1 had no effect: the first retry came ${firstGap} ms after the first attempt ` +
            '(the built-in schedule waits 4 s)',
        );
      }

      await sink.waitFor(() => deliveredCount(sink, id, sent) >= sent.size, 80_000, `all ${sent.size} contacts after the outage`);
      await sleep(2000);
      const eventIds = [...new Set(front.attempts.map((a) => a.eventId))];
      const gaps = front.attemptsOf(eventIds[0]!).map((a, i, all) => (i ? ((a.at - all[i - 1]!.at) / 1000).toFixed(1) : '0'));
      console.log(
        `callback down: ${eventIds.length} notifications, ${front.attempts.length} attempts; ` +
          `attempts per notification ${JSON.stringify(eventIds.map((e) => front.attemptsOf(e).length))}; gaps of the first (s) ${gaps.join(', ')}`,
      );
      for (const eventId of eventIds) {
        const attempts = front.attemptsOf(eventId);
        expect(attempts.map((a) => a.answered)).toEqual([503, 503, 503, 503, 503, 200]);
      }
      const t = tally('callback down for five attempts', sink, id, sent);
      expectNothingLostOrReIdentified(t);
      expect(t.duplicated).toBe(0);
      expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
    } finally {
      await front.stop();
    }
  });

  test('Insightly answering 500, then 429 with Retry-After, for several polls: every change delivered once', async () => {
    const { insightly, sink } = stack;
    const { id } = await createInstance(stack, contactsOnly(sink.url));
    await sleep(1100);
    const sent = new Set<string>();
    const create = (n: number) => {
      for (let i = 0; i < n; i++) sent.add(String(insightly.create('Contacts', { FIRST_NAME: `c${sent.size}` }).CONTACT_ID));
    };
    const answered = (status: number) => insightly.searchCalls('Contacts').filter((c) => c.status === status).length;
    create(5);
    await sink.waitFor(() => deliveredCount(sink, id, sent) >= 5, 20_000, 'the first 5 contacts');

    // 6 × 500: one poll's in-activity retries (5 requests) run out, Temporal retries the activity.
    const before500 = answered(500);
    insightly.failNext(6, 500);
    create(5);
    await sink.waitFor(() => answered(500) - before500 >= 3, 20_000, 'three 500s answered');
    create(5);
    await sink.waitFor(() => answered(500) - before500 >= 6, 40_000, 'six 500s answered');

    // 6 × 429 with Retry-After: 1, the same again.
    const before429 = answered(429);
    insightly.failNext(6, 429, { 'Retry-After': '1' });
    create(5);
    await sink.waitFor(() => answered(429) - before429 >= 3, 20_000, 'three 429s answered');
    create(5);
    await sink.waitFor(() => answered(429) - before429 >= 6, 40_000, 'six 429s answered');
    create(5);

    await sink.waitFor(() => deliveredCount(sink, id, sent) >= sent.size, 40_000, `all ${sent.size} contacts`);
    await sleep(3000);
    const view = await call(stack, 'GET', `/instances/${id}`);
    console.log(
      `provider 500/429: ${insightly.searchCalls('Contacts').length} searches; instance status ${JSON.stringify(view.body?.status)}`,
    );
    const t = tally('provider 500 and 429', sink, id, sent);
    expectNothingLostOrReIdentified(t);
    expect(t.duplicated).toBe(0);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });
});
