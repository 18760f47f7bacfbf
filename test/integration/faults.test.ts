import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { TEMPORAL_DEADLINE_MS } from '../../src/api/webhooks';
import { startDevServer, type DevServer, type DevServerOptions } from '../../src/temporal/dev-server';
import type { CallbackSink } from '../fakes/callback-sink';
import { freshbooksSignature, IDENTITY_ID } from '../fakes/freshbooks';
import { freePort } from '../fakes/http-server';
import {
  call,
  createInstance,
  deliveryTimersMs,
  freshbooksSeedBody,
  insightlySeedBody,
  repeatsAreIdentical,
  report,
  sleep,
  startStack,
  type Stack,
  waitForVerified,
} from './harness';

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
  /** Notifications accepted more than once (each repeat checked to carry the first's very bytes). */
  repeatedNotifications: number;
  /** Objects in those repeats: what `duplicated` must come to if every repeat is a whole notification again. */
  objectsInRepeats: number;
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
  const accepted = sink.accepted().filter((r) => r.body.message.instanceId === instanceId);
  const seenEventIds = new Set<string>();
  let objectsInRepeats = 0;
  for (const r of accepted) {
    const repeat = seenEventIds.has(r.body.message.eventId);
    seenEventIds.add(r.body.message.eventId);
    for (const e of r.body.message.events) {
      if (repeat && expected.has(e.objectId)) objectsInRepeats++;
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
    repeatedNotifications: repeatsAreIdentical(accepted),
    objectsInRepeats,
    lost: lostIds.length,
    lostIds,
    otherEventId,
  };
  report(label, {
    sent: t.sent,
    delivered: t.delivered,
    duplicated: t.duplicated,
    'repeated notifications': t.repeatedNotifications,
    lost: t.lost,
  });
  return t;
}

/**
 * The count line's figures: every object delivered, none under a second eventId (the failure shows
 * which), and every duplicate a whole notification sent again with its first bytes (at-least-once).
 */
function expectNothingLostOrReIdentified(t: Tally): void {
  expect(t.lostIds).toEqual([]);
  expect(t.lost).toBe(0);
  expect(t.delivered).toBe(t.sent);
  expect(t.otherEventId).toEqual([]);
  expect(t.duplicated).toBe(t.objectsInRepeats);
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

  /**
   * Starts again with the same port and database; resolves once the server serves its namespace
   * (describe-namespace answers), not merely once its port or frontend answers.
   */
  async restart(): Promise<void> {
    this.server = await startDevServer(this.opts);
    const connection = await Connection.connect({ address: this.address });
    try {
      for (let tries = 0; ; tries++) {
        let problem: unknown;
        try {
          const { namespaceInfo } = await connection.workflowService.describeNamespace({ namespace: this.opts.namespace });
          if (namespaceInfo?.name === this.opts.namespace) return;
          problem = new Error(`describe-namespace answered ${JSON.stringify(namespaceInfo?.name)}`);
        } catch (err) {
          problem = err;
        }
        if (tries >= 240) throw problem;
        await sleep(250);
      }
    } finally {
      await connection.close();
    }
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
): Promise<{ status: number; message?: string; retryAfter?: string | null }> {
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
  try {
    const res = await fetch(cb.uri, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-freshbooks-hmac-sha256': freshbooksSignature(fields, cb.verifier),
      },
      body: new URLSearchParams(fields).toString(),
    });
    const body = (await res.json()) as { message?: string };
    return { status: res.status, message: body.message, retryAfter: res.headers.get('retry-after') };
  } catch {
    return { status: 0 };
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
    // Once the process is gone: attempts it sent between the snapshot above and its death count too.
    const killedAt = Date.now();
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
    const cutOff = front.attempts.filter((a) => a.forwarded && a.answered === 0);
    // The front's own log, apart from the sink's: per notification, the copies it passed on.
    const forwarded = new Map<string, number>();
    for (const a of front.attempts) if (a.forwarded) forwarded.set(a.eventId, (forwarded.get(a.eventId) ?? 0) + 1);
    const forwardedAgain = [...forwarded.values()].reduce((n, c) => n + c - 1, 0);
    report('worker SIGKILL', {
      'in flight at the kill': inFlightAtKill.length,
      'refused at the kill': refusedAtKill,
      attempts: front.attempts.length,
      'accepted after the worker had gone': cutOff.length,
      'forwarded again': forwardedAgain,
    });
    expect(inFlightAtKill.length).toBeGreaterThanOrEqual(1);
    // The first attempts of the first two notifications were refused, and answered, before the kill.
    expect(refusedAtKill).toBe(2);
    expect(front.attempts.filter((a) => a.answered === 500)).toHaveLength(2);
    // Each attempt the kill cut off after the callback took it is a repeat, and every repeat is one
    // the worker could not have seen answered: cut off, or in flight at the kill.
    const repeated = [...forwarded.entries()].filter(([, c]) => c > 1).map(([eventId]) => eventId);
    expect(cutOff.every((a) => repeated.includes(a.eventId))).toBe(true);
    expect(repeated.every((eventId) => front.attemptsOf(eventId).some((a) => a.forwarded && a.at <= killedAt))).toBe(true);
    const t = tally('worker SIGKILL during delivery', sink, id, sent);
    expectNothingLostOrReIdentified(t);
    // The sink's count of repeats is the front's: nothing reached the callback but through an attempt.
    expect(t.repeatedNotifications).toBe(forwardedAgain);
    expect(t.repeatedNotifications).toBeGreaterThanOrEqual(cutOff.length);
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
    const duringOutage = sent.size;
    await temporal.restart();
    const searchesBeforeRestart = insightly.searchCalls('Contacts').length;
    create(5);
    await sleep(3000);
    create(5);

    await sink.waitFor(() => deliveredCount(sink, id, sent) >= sent.size, 100_000, `all ${sent.size} contacts after the restart`);
    await sleep(2500);
    const view = await call(stack, 'GET', `/instances/${id}`);
    const searchesAfterRestart = insightly.searchCalls('Contacts').length - searchesBeforeRestart;
    report('temporal SIGKILL during a poll', {
      'changed before the restart': duringOutage,
      'changed after it': sent.size - duringOutage,
      'searches after the restart': searchesAfterRestart,
    });
    expect(duringOutage).toBe(10 + 5 + 4 * 3);
    expect(sent.size - duringOutage).toBe(10);
    // Polling resumed after the restart on its own: it searches again, and its last poll succeeded.
    expect(searchesAfterRestart).toBeGreaterThanOrEqual(1);
    expect(view.status).toBe(200);
    expect(view.body.status.resources.contacts.lastError).toBeUndefined();
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
    let phase: 'up' | 'down' | 'restarting' = 'up';
    const statusesSeen = new Map<number, number>();
    /** Posts sent and answered while the server was down (after the kill, before the restart began). */
    const duringOutage: number[] = [];
    let resends = 0;
    const sendUntilAccepted = async (objectId: number): Promise<void> => {
      const deadline = Date.now() + 120_000;
      for (let attempt = 0; ; attempt++) {
        const sentIn = phase;
        const statuses = await freshbooks.sendWebhook('invoice.update', objectId);
        if (sentIn === 'down' && phase === 'down') duringOutage.push(...statuses);
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
    await temporal.kill(); // webhooks are in flight into the receiver now
    phase = 'down';
    await sleep(1000);
    // How the receiver answers during the outage when the sender does not give up after 10 s: the
    // server stays down until this answer is in, so an answer at all means one within the outage.
    const probeId = 49_999;
    const probed = await postWebhookWithoutTimeout(freshbooks, created.id, 'invoice.update', probeId);
    const probeAnsweredIn = phase;
    phase = 'restarting';
    await temporal.restart();
    phase = 'up';
    await sleep(2500);
    streaming = false;
    await stream;
    await Promise.all(senders);
    sent.add(String(probeId));
    if (probed.status !== 200) await sendUntilAccepted(probeId);

    await sink.waitFor(() => deliveredCount(sink, created.id, sent) >= sent.size, 60_000, `all ${sent.size} webhooks delivered`);
    await sleep(2500);
    const view = await call(stack, 'GET', `/instances/${created.id}`);
    const webhooks = view.body.status.webhooks as { received: number; pending: number; repeats: number };
    report('temporal SIGKILL during webhook ingest', {
      webhooks: sent.size,
      'answered 200': statusesSeen.get(200) ?? 0,
      'answered 503': statusesSeen.get(503) ?? 0,
      'answered otherwise': [...statusesSeen].filter(([s]) => s !== 200 && s !== 503).reduce((n, [, c]) => n + c, 0),
      'posts within the outage': duringOutage.length,
      resends,
      'probe status': probed.status,
      'received by the instance': webhooks.received,
      repeats: webhooks.repeats,
      pending: webhooks.pending,
    });
    // The probe, with no client timeout, had its answer while Temporal was down: a 503 that names the
    // receiver's own deadline and asks for a retry, not a 200 and not a wait for the server.
    expect(probeAnsweredIn).toBe('down');
    expect(probed.status).toBe(503);
    expect(probed.retryAfter).toBe('1');
    expect(probed.message).toBe(`The webhook could not be recorded within ${TEMPORAL_DEADLINE_MS / 1000} s; try again`);
    // Every post sent and answered within the outage was refused with 503; none was answered otherwise.
    expect(duringOutage.length).toBeGreaterThanOrEqual(1);
    expect(duringOutage.filter((s) => s !== 503)).toEqual([]);
    expect([...statusesSeen.keys()].filter((s) => s !== 200 && s !== 503)).toEqual([]);
    // Every 503 was sent again (one callback per event: one status per send), and only those.
    expect(resends).toBe(statusesSeen.get(503));
    // The resends were accepted: each webhook is one event to the instance, however often it came, and
    // every post answered 200 is on record there (as new, or as a repeat of one recorded before).
    expect(webhooks.received).toBe(sent.size);
    expect(webhooks.pending).toBe(0);
    expect(webhooks.received + webhooks.repeats).toBeGreaterThanOrEqual(statusesSeen.get(200)!);
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

      await sink.waitFor(() => deliveredCount(sink, id, sent) >= sent.size, 80_000, `all ${sent.size} contacts after the outage`);
      await sleep(2000);
      const eventIds = [...new Set(front.attempts.map((a) => a.eventId))];
      // The waits the schedule decided, from each delivery workflow's timers: 0.1 s × 4^n (the
      // shortened schedule in effect; the built-in one would wait 4 s first).
      const timers = await Promise.all(eventIds.map((e) => deliveryTimersMs(stack, e)));
      report('callback down', {
        notifications: eventIds.length,
        attempts: front.attempts.length,
        'attempts per notification': front.attempts.length / eventIds.length,
        'scheduled wait total (ms)': timers[0]!.reduce((a, b) => a + b, 0),
      });
      expect(eventIds.length).toBeGreaterThanOrEqual(3); // 27 contacts, at most 10 per notification
      expect(front.attempts).toHaveLength(eventIds.length * 6);
      for (const [i, eventId] of eventIds.entries()) {
        const attempts = front.attemptsOf(eventId);
        expect(attempts.map((a) => a.answered)).toEqual([503, 503, 503, 503, 503, 200]);
        expect(timers[i]).toEqual([100, 400, 1600, 6400, 25_600]);
      }
      expect(timers[0]!.reduce((a, b) => a + b, 0)).toBe(34_100);
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
    report('provider 500/429', { 'answered 500': answered(500) - before500, 'answered 429': answered(429) - before429 });
    expect(answered(500) - before500).toBe(6);
    expect(answered(429) - before429).toBe(6);
    // The polls after the faults succeeded: nothing left on record as failing.
    expect(view.body.status.resources.contacts.lastError).toBeUndefined();
    const t = tally('provider 500 and 429', sink, id, sent);
    expectNothingLostOrReIdentified(t);
    expect(t.duplicated).toBe(0);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });
});
