import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LookupFn } from '../../src/events/callback-url';
import type { DeliveryRecord } from '../../src/workflows/types';
import { CallbackSink } from '../fakes/callback-sink';
import {
  call,
  closedDelivery,
  createInstance,
  deliveryTimersMs,
  insightlySeedBody,
  report,
  sleep,
  startStack,
  type Stack,
} from './harness';

jest.setTimeout(120_000);

describe('delivery: durable retries on a real Temporal', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('a callback that answers 500 at first gets the notification later with the same eventId, and not again after a 2xx', async () => {
    const { insightly, sink } = stack;
    const { id } = await createInstance(stack, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: '0.02' }));
    await sleep(1100);
    sink.answerNext(500);
    const contact = insightly.create('Contacts', { FIRST_NAME: 'Grace' });
    const ours = () => sink.received.filter((r) => r.body.message.instanceId === id);
    await sink.waitFor(() => ours().some((r) => r.answered === 200), 30_000, 'the retried delivery');
    const eventId = ours()[0]!.body.message.eventId;
    // Its workflow has closed: no attempt can follow the one the callback accepted.
    const record = await closedDelivery(stack, eventId);
    const timers = await deliveryTimersMs(stack, eventId);
    const attempts = ours();
    report('retried delivery', {
      attempts: attempts.length,
      refused: attempts.filter((r) => r.answered === 500).length,
      accepted: attempts.filter((r) => r.answered === 200).length,
      'scheduled wait (ms)': timers[0] ?? 0,
    });
    expect(attempts.map((r) => r.answered)).toEqual([500, 200]);
    expect(attempts[1]!.body.message.eventId).toBe(attempts[0]!.body.message.eventId);
    expect(attempts[1]!.rawBody).toBe(attempts[0]!.rawBody);
    expect(record.status).toBe('delivered');
    expect(record.attempts.map((a) => [a.status, a.error])).toEqual([
      [500, 'callback answered 500'],
      [200, undefined],
    ]);
    // Cloud Elements' first gap, as the schedule decided it: one timer of 4 s between the attempts.
    expect(timers).toEqual([4000]);
    expect(attempts[1]!.body.message.events).toEqual([
      expect.objectContaining({ eventType: 'CREATED', objectId: String(contact.CONTACT_ID) }),
    ]);
    await call(stack, 'DELETE', `/instances/${id}`);
  });

  test('while one callback is down nothing is lost, and other instances keep polling and delivering', async () => {
    const { insightly, sink } = stack;
    const down = new CallbackSink();
    await down.start();
    try {
      down.answerNext(503, 503); // down for the first two attempts (about 20 s)
      const a = await createInstance(stack, insightlySeedBody({ callbackUrl: down.url, refreshInterval: '0.02' }));
      const b = await createInstance(stack, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: '0.02' }));
      await sleep(1100);
      const first = insightly.create('Opportunities', { OPPORTUNITY_NAME: 'Deal' });

      const forB = () => sink.accepted().filter((r) => r.body.message.instanceId === b.id);
      await sink.waitFor(() => forB().length >= 1, 15_000, 'instance B delivering');
      expect(down.accepted()).toHaveLength(0);
      // B goes on polling and delivering new changes while A's callback is still failing.
      const second = insightly.create('Opportunities', { OPPORTUNITY_NAME: 'Deal 2' });
      await sink.waitFor(
        () =>
          forB()
            .flatMap((r) => r.body.message.events)
            .some((e) => e.objectId === String(second.OPPORTUNITY_ID)),
        15_000,
        'B delivering a later change',
      );
      expect(down.accepted()).toHaveLength(0);

      await down.waitFor(() => down.acceptedEvents().length >= 2, 60_000, 'A catching up');
      const delivered = down
        .acceptedEvents()
        .map((e) => e.objectId)
        .sort();
      expect(delivered).toEqual([String(first.OPPORTUNITY_ID), String(second.OPPORTUNITY_ID)].sort());
      const failedIds = new Set(down.received.filter((r) => r.answered === 503).map((r) => r.body.message.eventId));
      expect([...failedIds].every((eventId) => down.accepted().some((r) => r.body.message.eventId === eventId))).toBe(true);
      await call(stack, 'DELETE', `/instances/${a.id}`);
      await call(stack, 'DELETE', `/instances/${b.id}`);
    } finally {
      await down.stop();
    }
  });
});

// A short schedule so the whole of it runs in a test: 3 attempts, 0.2 s then 0.8 s apart.
const FAST_SCHEDULE = { DELIVERY_FIRST_RETRY_SECONDS: '0.2', DELIVERY_MAX_ATTEMPTS: '3' };

/** Polls the instance's events until one notification is listed with `status`; its record. */
async function onlyNotification(stack: Stack, id: number, status: string): Promise<DeliveryRecord> {
  for (let i = 0; ; i++) {
    const list = await call(stack, 'GET', `/instances/${id}/events?status=${status}`);
    const [listed] = (list.body.events ?? []) as { eventId: string }[];
    if (listed) return (await call(stack, 'GET', `/instances/${id}/events/${listed.eventId}`)).body as DeliveryRecord;
    if (i >= 300) throw new Error(`no ${status} notification of instance ${id}: ${JSON.stringify(list.body)}`);
    await sleep(100);
  }
}

describe('a callback that never answers', () => {
  let stack: Stack;
  let server: Server;
  let url = '';
  /** Requests the callback took, and which of them it answered. */
  const requests: { eventId: string; answered: boolean }[] = [];
  const held: ServerResponse[] = [];
  beforeAll(async () => {
    // The first request is taken and never answered; later ones get a 200 at once.
    server = createServer((req, res) => {
      const request = { eventId: String(req.headers['elements-webhook-id']), answered: false };
      requests.push(request);
      req.resume();
      if (requests.length === 1) {
        held.push(res);
        return;
      }
      req.on('end', () => {
        request.answered = true;
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
    // A 1 s callback timeout stands in for Cloud Elements' 30 s: the same code path, 29 s sooner.
    stack = await startStack({ env: { ...FAST_SCHEDULE, CALLBACK_TIMEOUT_SECONDS: '1' } });
  });
  afterAll(async () => {
    await stack?.stop();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  test('the attempt fails as "no answer within" the callback timeout, and the retry delivers it', async () => {
    const { id } = await createInstance(stack, insightlySeedBody({ callbackUrl: url, refreshInterval: '0.02' }));
    await sleep(1100);
    stack.insightly.create('Contacts', { FIRST_NAME: 'Silent' });
    await stack.sink.waitFor(() => requests.some((r) => r.answered), 30_000, 'the retried delivery');
    const eventId = requests[0]!.eventId;
    const record = await closedDelivery(stack, eventId);
    const timers = await deliveryTimersMs(stack, eventId);
    report('callback never answering', {
      requests: requests.length,
      'left unanswered': requests.filter((r) => !r.answered).length,
      'timed out': record.attempts.filter((a) => a.error?.includes('no answer within')).length,
      delivered: record.status === 'delivered' ? 1 : 0,
    });
    expect(requests).toEqual([
      { eventId, answered: false },
      { eventId, answered: true },
    ]);
    expect(held).toHaveLength(1);
    expect(record.status).toBe('delivered');
    // The activity's own timeout, recorded as the attempt's failure (not the 40 s activity timeout).
    expect(record.attempts.map((a) => [a.error, a.status, a.url])).toEqual([
      ['callback unreachable: no answer within 1 s', undefined, url],
      [undefined, 200, url],
    ]);
    // Then the schedule went on as for any failure: its first wait, 0.2 s.
    expect(timers).toEqual([200]);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });
});

describe('a callback name that rebinds to an inner address after the instance is created', () => {
  let stack: Stack;
  let rebound = false;
  const lookups: string[] = [];
  // A resolver stub: rebind.test is public while the API checks it, then loopback (where the sink
  // listens) or the cloud metadata address, in turn, for the worker's connections.
  const lookup: LookupFn = async (host) => {
    if (host !== 'rebind.test') throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    const address = !rebound ? '93.184.216.34' : lookups.length % 2 ? '169.254.169.254' : '127.0.0.1';
    if (rebound) lookups.push(address);
    return [{ address, family: 4 }];
  };
  beforeAll(async () => {
    stack = await startStack({ callbackLookup: lookup, env: { ...FAST_SCHEDULE, CALLBACK_URLS_PUBLIC_ONLY: 'true' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('every attempt is refused as "address not allowed", nothing reaches the inner address, the schedule runs on', async () => {
    const url = `http://rebind.test:${new URL(stack.sink.url).port}/callback`;
    const { id } = await createInstance(stack, insightlySeedBody({ callbackUrl: url, refreshInterval: '0.02' }));
    rebound = true;
    await sleep(1100);
    stack.insightly.create('Contacts', { FIRST_NAME: 'Rebound' });
    // Failed after the whole schedule (3 attempts); its workflow stays open for a redelivery.
    const record = await onlyNotification(stack, id, 'failed');
    const timers = await deliveryTimersMs(stack, record.eventId);
    report('rebinding at delivery', {
      attempts: record.attempts.length,
      refused: record.attempts.filter((a) => a.error === 'callback refused: address not allowed').length,
      'lookups after the rebinding': lookups.length,
      'requests at the inner address': stack.sink.received.length,
    });
    expect(record.status).toBe('failed');
    expect(record.attempts.map((a) => [a.error, a.status, a.url])).toEqual([
      ['callback refused: address not allowed', undefined, url],
      ['callback refused: address not allowed', undefined, url],
      ['callback refused: address not allowed', undefined, url],
    ]);
    // Each attempt looked the name up again and was refused on what it found then.
    expect(lookups.length).toBeGreaterThanOrEqual(3);
    expect(new Set(lookups)).toEqual(new Set(['127.0.0.1', '169.254.169.254']));
    expect(stack.sink.received).toHaveLength(0);
    // The refusal is an ordinary failed attempt: the schedule's waits, 0.2 s then 0.8 s, then the
    // failed notification's 30 days kept for a redelivery.
    expect(timers).toEqual([200, 800, 30 * 24 * 3600 * 1000]);
    // What is on record names the callback, never the address behind it.
    expect(JSON.stringify(record)).not.toMatch(/127\.0\.0\.1|169\.254/);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });
});
