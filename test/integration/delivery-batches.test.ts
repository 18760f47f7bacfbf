import { withSink } from '../fakes/callback-sink';
import {
  call,
  createInstance,
  deliveryTimersMs,
  insightlySeedBody,
  notificationWorkflowId,
  report,
  sleep,
  startStack,
  type Stack,
} from './harness';

jest.setTimeout(120_000);

// One poll's notifications are handed to delivery together: one batch makes all their first
// attempts; only those not accepted move on to a workflow of their own. The records API shows each
// notification wherever it is held, and pages through a batch's notifications one by one.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { DELIVERY_FIRST_RETRY_SECONDS: '0.2' } });
});
afterAll(() => stack?.stop());

async function pollingInstance(callbackUrl: string) {
  const created = await createInstance(stack, insightlySeedBody({ callbackUrl, refreshInterval: '0.02' }));
  await sleep(1100);
  return created.id as number;
}

test('one poll, one batch: its notifications are listed, paged one by one and read singly; a refused one moves on and is retried', () =>
  withSink(async (sink) => {
    const id = await pollingInstance(sink.url);
    const at = Date.now();
    // 25 contacts in one poll: notifications of 10, 10 and 5 events. The second post is refused.
    sink.answerNext(200, 500);
    for (let i = 0; i < 25; i++) stack.insightly.create('Contacts', { N: i }, at);
    await sink.waitFor(() => sink.acceptedEvents().length >= 25, 30_000, 'the 25 contacts');
    const eventIds = [...new Set(sink.received.map((r) => r.body.message.eventId as string))];
    expect(eventIds).toHaveLength(3);
    const refused = sink.received.find((r) => r.answered === 500)!.body.message.eventId as string;

    const holders = await Promise.all(eventIds.map((e) => notificationWorkflowId(stack, e)));
    const batches = new Set(holders.filter((h) => h.startsWith('deliveries-')));
    const records = await Promise.all(eventIds.map(async (e) => (await call(stack, 'GET', `/instances/${id}/events/${e}`)).body));
    report('a batch', {
      notifications: eventIds.length,
      'held by the batch': holders.filter((h) => h.startsWith('deliveries-')).length,
      'moved to their own workflow': holders.filter((h) => h.startsWith('delivery-')).length,
      posts: sink.received.length,
    });
    // Two delivered by the batch (one batch), the refused one by its own workflow.
    expect(batches.size).toBe(1);
    expect(holders.filter((h) => h === `delivery-${refused}`)).toHaveLength(1);
    for (const r of records) {
      expect(r.status).toBe('delivered');
      expect(r.attempts.map((a: { status: number }) => a.status)).toEqual(r.eventId === refused ? [500, 200] : [200]);
    }
    // Delivered at the first attempt: no retry was scheduled for them.
    expect(
      await deliveryTimersMs(
        stack,
        eventIds.find((e) => e !== refused)!,
      ),
    ).toEqual([]);
    expect((await deliveryTimersMs(stack, refused)).length).toBe(1);

    // Paging: one at a time through the batch's two and the moved one; each once, newest first.
    let listed: { eventId: string; status: string }[] = [];
    for (let i = 0; i < 50; i++) {
      listed = (await call(stack, 'GET', `/instances/${id}/events`)).body.events;
      if (listed.length === 3 && listed.every((e) => e.status === 'delivered')) break;
      await sleep(100);
    }
    const paged: string[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const page = await call(stack, 'GET', `/instances/${id}/events?pageSize=1${next ? `&nextPage=${next}` : ''}`);
      expect(page.status).toBe(200);
      paged.push(...page.body.events.map((e: { eventId: string }) => e.eventId));
      next = page.body.nextPage;
      pages++;
    } while (next && pages < 10);
    report('paging a batch', { listed: listed.length, 'pages of one': pages, 'distinct paged': new Set(paged).size });
    expect(new Set(listed.map((e) => e.eventId))).toEqual(new Set(eventIds));
    expect(paged).toHaveLength(3);
    expect(new Set(paged)).toEqual(new Set(eventIds));
    expect((await call(stack, 'GET', `/instances/${id}/events?status=failed`)).body.events).toEqual([]);
    // A batch's notifications were delivered: none is redelivered on request.
    const notFailed = await call(stack, 'POST', `/instances/${id}/events/${eventIds.find((e) => e !== refused)}/redeliver`);
    expect(notFailed.status).toBe(409);
    expect(notFailed.body.message).toMatch(/delivered/);
    await call(stack, 'DELETE', `/instances/${id}`);
  }));
