import { Webhook } from 'standardwebhooks';
import { CallbackSink, withSink } from '../fakes/callback-sink';
import {
  call,
  closedDelivery,
  createInstance,
  deliveryTimersMs,
  insightlySeedBody,
  OTHER_ACCOUNT_AUTH,
  report,
  sleep,
  startStack,
  TEST_USER_SECRET,
  type Stack,
} from './harness';

jest.setTimeout(120_000);

// A short schedule so the whole of it runs in a test: 3 attempts, 0.2 s then 0.8 s apart.
const FAST_SCHEDULE = { DELIVERY_FIRST_RETRY_SECONDS: '0.2', DELIVERY_MAX_ATTEMPTS: '3' };

describe('delivery records, redelivery and response rules', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: FAST_SCHEDULE });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function instanceWithEvents(callbackUrl: string, extra: Record<string, unknown> = {}) {
    const body = insightlySeedBody({ callbackUrl, refreshInterval: '0.02' });
    Object.assign(body.configuration, extra);
    const created = await createInstance(stack, body);
    await sleep(1100);
    return created;
  }

  test('a notification failed after the schedule is listed, shown with its attempts, and redelivered singly or in bulk', async () => {
    const { insightly, sink } = stack;
    const { id } = await instanceWithEvents(sink.url);
    sink.answerNext(500, 500, 500); // the first notification fails all three attempts
    const first = insightly.create('Contacts', { N: 1 });
    const failedList = async () => (await call(stack, 'GET', `/instances/${id}/events?status=failed`)).body.events as { eventId: string }[];
    await sink.waitFor(() => sink.received.filter((r) => r.answered === 500).length >= 3, 20_000, 'three failed attempts');
    for (let i = 0; i < 50 && (await failedList()).length === 0; i++) await sleep(100);
    const [failed] = await failedList();
    expect(failed).toBeDefined();

    const detail = await call(stack, 'GET', `/instances/${id}/events/${failed!.eventId}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ eventId: failed!.eventId, instanceId: id, status: 'failed', events: 1 });
    expect(detail.body.attempts).toHaveLength(3);
    expect(detail.body.attempts.map((a: { status: number }) => a.status)).toEqual([500, 500, 500]);
    expect(detail.body.attempts[0].error).toBe('callback answered 500');
    // Nothing was dropped: the failed one is still there, its body the one the callback saw.
    expect(sink.received.filter((r) => r.body.message.eventId === failed!.eventId)).toHaveLength(3);

    const redelivered = await call(stack, 'POST', `/instances/${id}/events/${failed!.eventId}/redeliver`);
    expect(redelivered.status).toBe(200);
    await sink.waitFor(() => sink.accepted().some((r) => r.body.message.eventId === failed!.eventId), 10_000, 'the redelivery');
    const after = await call(stack, 'GET', `/instances/${id}/events/${failed!.eventId}`);
    expect(after.body.status).toBe('delivered');
    expect(after.body.attempts).toHaveLength(4);
    expect(sink.accepted().find((r) => r.body.message.eventId === failed!.eventId)!.body.message.events[0]!.objectId).toBe(
      String(first.CONTACT_ID),
    );
    // Delivered ones are not sent again on request.
    const again = await call(stack, 'POST', `/instances/${id}/events/${failed!.eventId}/redeliver`);
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/delivered/);

    // Bulk: two more notifications fail, one call sends both again.
    sink.answerNext(500, 500, 500, 500, 500, 500);
    insightly.create('Contacts', { N: 2 });
    insightly.create('Leads', { N: 3 });
    for (let i = 0; i < 100 && (await failedList()).length < 2; i++) await sleep(200);
    expect(await failedList()).toHaveLength(2);
    const bulk = await call(stack, 'POST', `/instances/${id}/events/redeliver`);
    expect(bulk.status).toBe(200);
    expect(bulk.body.redelivered).toBe(2);
    await sink.waitFor(
      () => bulk.body.eventIds.every((e: string) => sink.accepted().some((r) => r.body.message.eventId === e)),
      10_000,
      'bulk',
    );

    // The list: newest first, paged, filtered by status.
    // Visibility follows the workflows' status a moment later.
    let all = await call(stack, 'GET', `/instances/${id}/events`);
    for (let i = 0; i < 50 && !all.body.events.every((e: { status: string }) => e.status === 'delivered'); i++) {
      await sleep(100);
      all = await call(stack, 'GET', `/instances/${id}/events`);
    }
    expect(all.body.events).toHaveLength(3);
    expect(all.body.events.every((e: { status: string }) => e.status === 'delivered')).toBe(true);
    const dates = all.body.events.map((e: { createdDate: string }) => e.createdDate);
    expect([...dates].sort().reverse()).toEqual(dates);
    const page1 = await call(stack, 'GET', `/instances/${id}/events?pageSize=2`);
    expect(page1.body.events).toHaveLength(2);
    // Cloud Elements' header carries the same token as the body; the last page has neither.
    expect(page1.headers.get('elements-next-page-token')).toBe(page1.body.nextPage);
    const page2 = await call(stack, 'GET', `/instances/${id}/events?pageSize=2&nextPage=${page1.headers.get('elements-next-page-token')}`);
    expect(page2.body.events).toHaveLength(1);
    expect(page2.headers.get('elements-next-page-token')).toBeNull();
    expect(page2.body.nextPage).toBeUndefined();
    expect(new Set([...page1.body.events, ...page2.body.events].map((e: { eventId: string }) => e.eventId)).size).toBe(3);
    // Page tokens are the caller's to forge: junk, a cursor of the caller's own making (a negative offset,
    // a visibility token Temporal never issued), or a real token used on another list are each a 400
    // naming nextPage, and none reaches Temporal.
    const token = (c: unknown) => Buffer.from(JSON.stringify(c)).toString('base64url');
    const forged = [
      `/instances/${id}/events?pageSize=2&nextPage=not-a-token`,
      `/instances/${id}/events?pageSize=2&nextPage=${token({ skip: -1 })}`,
      `/instances/${id}/events?pageSize=2&nextPage=${token({ skip: 0, token: Buffer.from('forged visibility token').toString('base64url') })}`,
      `/instances/${id}/events?pageSize=2&status=failed&nextPage=${page1.body.nextPage}`,
    ];
    const callsBefore = stack.temporalCalls.length;
    const answers = [];
    for (const path of forged) answers.push(await call(stack, 'GET', path));
    const listed = stack.temporalCalls.slice(callsBefore).filter((c) => c.endsWith('/ListWorkflowExecutions')).length;
    report('forged page tokens', {
      sent: forged.length,
      'refused 400': answers.filter((a) => a.status === 400).length,
      'Temporal lists': listed,
    });
    for (const a of answers) {
      expect(a.status).toBe(400);
      expect(a.body.message).toContain('nextPage');
    }
    expect(listed).toBe(0);
    expect((await call(stack, 'GET', `/instances/${id}/events?status=lost`)).status).toBe(400);
    expect((await call(stack, 'GET', `/instances/${id}/events/not-an-event`)).status).toBe(404);

    // Tenancy: another account, and another instance's token, see none of it.
    const other = await instanceWithEvents(sink.url);
    const otherToken = `User ${TEST_USER_SECRET}, Element ${other.token}`;
    for (const auth of [OTHER_ACCOUNT_AUTH, otherToken]) {
      expect((await call(stack, 'GET', `/instances/${id}/events`, { auth })).status).toBe(404);
      expect((await call(stack, 'GET', `/instances/${id}/events/${failed!.eventId}`, { auth })).status).toBe(404);
      expect((await call(stack, 'POST', `/instances/${id}/events/${failed!.eventId}/redeliver`, { auth })).status).toBe(404);
      expect((await call(stack, 'POST', `/instances/${id}/events/redeliver`, { auth })).status).toBe(404);
    }
    // An event of instance A is not reachable through instance B's path either.
    expect((await call(stack, 'GET', `/instances/${other.id}/events/${failed!.eventId}`)).status).toBe(404);
    await call(stack, 'DELETE', `/instances/${id}`);
    await call(stack, 'DELETE', `/instances/${other.id}`);
  });

  test('3xx is a failure and is not followed; Retry-After on 429 and 503 is honoured', () =>
    withSink(async (sink) => {
      const { insightly } = stack;
      const elsewhere = new CallbackSink();
      await elsewhere.start();
      try {
        const { id } = await instanceWithEvents(sink.url);
        sink.answerNext({ status: 302, headers: { location: elsewhere.url } }, { status: 429, headers: { 'retry-after': '2' } });
        insightly.create('Contacts', { N: 1 });
        await sink.waitFor(() => sink.received.filter((r) => r.body.message.instanceId === id).length >= 3, 20_000, 'three attempts');
        const attempts = sink.received.filter((r) => r.body.message.instanceId === id);
        expect(attempts.map((r) => r.answered)).toEqual([302, 429, 200]);
        expect(elsewhere.received).toHaveLength(0);
        const first = await closedDelivery(stack, attempts[0]!.body.message.eventId);
        expect(first.attempts.map((a) => [a.status, a.error])).toEqual([
          [302, 'callback answered 302'],
          [429, 'callback answered 429'],
          [200, undefined],
        ]);
        // The waits the schedule decided: its first gap (0.2 s) after the 302, then the 2 s the
        // callback asked for instead of the schedule's 0.8 s.
        const firstTimers = await deliveryTimersMs(stack, first.eventId);
        expect(firstTimers).toEqual([200, 2000]);
        sink.answerNext({ status: 503, headers: { 'retry-after': '1' } });
        insightly.create('Contacts', { N: 2 });
        await sink.waitFor(() => sink.received.filter((r) => r.body.message.instanceId === id).length >= 5, 20_000, '503 then 200');
        const more = sink.received.filter((r) => r.body.message.instanceId === id).slice(3);
        expect(more.map((r) => r.answered)).toEqual([503, 200]);
        const second = await closedDelivery(stack, more[0]!.body.message.eventId);
        expect(second.attempts.map((a) => a.status)).toEqual([503, 200]);
        // Retry-After: 1 on the 503, honoured instead of the schedule's first 0.2 s.
        const secondTimers = await deliveryTimersMs(stack, second.eventId);
        expect(secondTimers).toEqual([1000]);
        report('Retry-After honoured', {
          'attempts of the first': first.attempts.length,
          'its waits (ms)': firstTimers.reduce((a, b) => a + b, 0),
          'attempts of the second': second.attempts.length,
          'its wait (ms)': secondTimers[0]!,
          'requests elsewhere': elsewhere.received.length,
        });
        await call(stack, 'DELETE', `/instances/${id}`);
      } finally {
        await elsewhere.stop();
      }
    }));

  test("410 Gone stops retrying and turns the instance's events off", () =>
    withSink(async (sink) => {
      const { insightly } = stack;
      const { id } = await instanceWithEvents(sink.url);
      sink.answerNext(410);
      insightly.create('Contacts', { N: 1 });
      const view = async () => (await call(stack, 'GET', `/instances/${id}`)).body;
      for (let i = 0; i < 100 && (await view()).eventsEnabled; i++) await sleep(100);
      const v = await view();
      expect(v.eventsEnabled).toBe(false);
      expect(v.status.eventsDisabled).toMatch(/410 Gone/);
      expect(v.configuration['event.notification.enabled']).toBe(false);
      const list = await call(stack, 'GET', `/instances/${id}/events`);
      expect(list.body.events.map((e: { status: string }) => e.status)).toEqual(['gone']);
      await sleep(2000);
      expect(sink.received.filter((r) => r.body.message.instanceId === id)).toHaveLength(1); // no retry
      const listed = await call(stack, 'GET', '/instances');
      expect(listed.body.find((i: { id: number }) => i.id === id).eventsEnabled).toBe(false);
      // Turning events on again clears it.
      const on = await call(stack, 'PATCH', `/instances/${id}`, { json: { configuration: { 'event.notification.enabled': true } } });
      expect(on.body.eventsEnabled).toBe(true);
      expect(on.body.status.eventsDisabled).toBeUndefined();
      await call(stack, 'DELETE', `/instances/${id}`);
    }));

  test('Standard Webhooks headers verify with the standardwebhooks package; a tampered body does not', async () => {
    const { insightly, sink } = stack;
    const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const { id } = await instanceWithEvents(sink.url, {
      'event.notification.webhook.secret': secret,
      'event.notification.signature.key': 'elements-key',
    });
    insightly.create('Contacts', { N: 1 });
    await sink.waitFor(() => sink.accepted().some((r) => r.body.message.instanceId === id), 15_000, 'a notification');
    const received = sink.accepted().find((r) => r.body.message.instanceId === id)!;
    const headers = Object.fromEntries(
      ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(received.headers[h])]),
    );
    expect(headers['webhook-id']).toBe(received.body.message.eventId);
    const wh = new Webhook(secret);
    expect(wh.verify(received.rawBody, headers)).toEqual(received.body);
    expect(() => wh.verify(received.rawBody.replace('"CREATED"', '"DELETED"'), headers)).toThrow();
    expect(received.headers['elements-webhook-signature']).toMatch(/^sha256=/); // unchanged beside it
    const view = await call(stack, 'GET', `/instances/${id}`);
    expect(view.body.configuration['event.notification.webhook.secret']).toBe('********');
    const bad = await call(stack, 'POST', '/instances', {
      json: {
        ...insightlySeedBody({ callbackUrl: sink.url, refreshInterval: 15 }),
        configuration: {
          ...insightlySeedBody({ callbackUrl: sink.url, refreshInterval: 15 }).configuration,
          'event.notification.webhook.secret': 'not-whsec',
        },
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/webhook.secret/);
    await call(stack, 'DELETE', `/instances/${id}`);
  });

  test('callback URLs on link-local and metadata addresses are always refused', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data',
      'http://[fd00:ec2::254]/',
      'http://[::ffff:169.254.169.254]/',
      'file:///etc/passwd',
    ]) {
      const body = insightlySeedBody({ callbackUrl: url, refreshInterval: 15 });
      const res = await call(stack, 'POST', '/instances', { json: body });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].path).toBe('configuration.event.notification.callback.url');
    }
  });
});

describe('deployments that face the internet', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { CALLBACK_URLS_PUBLIC_ONLY: 'true' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('CALLBACK_URLS_PUBLIC_ONLY refuses private and loopback callbacks', async () => {
    for (const url of ['http://127.0.0.1:9/cb', 'http://10.1.2.3/cb', 'http://192.168.0.1/cb', 'http://localhost/cb', 'http://[::1]/cb']) {
      const res = await call(stack, 'POST', '/instances', { json: insightlySeedBody({ callbackUrl: url, refreshInterval: 15 }) });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].path).toBe('configuration.event.notification.callback.url');
    }
    const ok = await call(stack, 'POST', '/instances', {
      json: insightlySeedBody({ callbackUrl: 'https://93.184.215.14/cb', refreshInterval: 15 }),
    });
    expect(ok.status).toBe(200);
    await call(stack, 'DELETE', `/instances/${ok.body.id}`);
  });
});
