import { CallbackSink } from '../fakes/callback-sink';
import { call, createInstance, freshbooksSeedBody, report, startStack, waitForVerified, type Stack } from './harness';

jest.setTimeout(180_000);

// `event.notification.ordered`: an instance's notifications go one at a time, in the order the
// changes happened; while the head fails, the rest wait. Without it, a batch's notifications go at once.
let stack: Stack;
beforeAll(async () => {
  // A short schedule: 4 failed attempts of the head take 0.2 + 0.8 + 3.2 s of waiting.
  stack = await startStack({ env: { DELIVERY_FIRST_RETRY_SECONDS: '0.2' } });
});
afterAll(() => stack?.stop());

async function webhookInstance(callbackUrl: string, ordered: boolean) {
  const body = freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl });
  if (ordered) body.configuration['event.notification.ordered'] = true;
  const created = await createInstance(stack, body);
  await waitForVerified(stack, created.id, 18);
  const uri = stack.freshbooks.callbacks().find((c) => c.uri.endsWith(`/events/freshbooksv2/${created.id}`))!.uri;
  return { id: created.id, uri };
}

/** Where a notification's first event stands among the objects sent. */
const positionOf = (objectIds: string[], received: { body: { message: { events: { objectId: string }[] } } }) =>
  objectIds.indexOf(received.body.message.events[0]!.objectId);

test('ordered: 200 changes arrive one at a time and in order across a callback outage', async () => {
  const sink = new CallbackSink();
  await sink.start();
  try {
    const { id, uri } = await webhookInstance(sink.url, true);
    expect((await call(stack, 'GET', `/instances/${id}`)).body.configuration['event.notification.ordered']).toBe(true);
    sink.holdMs = 20;
    // The callback is down for the first four posts: the head is retried, and nothing behind it is sent.
    sink.answerNext(503, 503, 500, 500);
    const objectIds = Array.from({ length: 200 }, (_, i) => String(70_000 + i));
    // Sent one after another, so the order they happened in is the order FreshBooks posts them.
    for (const objectId of objectIds) expect(await stack.freshbooks.sendWebhook('invoice.create', objectId, {}, { uri })).toEqual([200]);
    await sink.waitFor(() => sink.acceptedEvents().length >= 200, 120_000, 'all 200 changes');

    const accepted = sink.acceptedEvents().map((e) => e.objectId);
    const positions = sink.received.map((r) => positionOf(objectIds, r));
    const backwards = positions.filter((p, i) => i > 0 && p < positions[i - 1]!).length;
    report('ordered delivery', {
      changes: objectIds.length,
      posts: sink.received.length,
      refused: sink.received.filter((r) => r.answered >= 300).length,
      notifications: sink.accepted().length,
      'accepted in order': Number(accepted.join() === objectIds.join()),
      'posts out of order': backwards,
      'most posts in flight at once': sink.maxInFlight,
    });
    expect(accepted).toEqual(objectIds);
    expect(sink.received.filter((r) => r.answered >= 300)).toHaveLength(4);
    // The head's retries are the only repeats: no later notification was posted while it failed.
    expect(backwards).toBe(0);
    expect(positions.slice(0, 5).every((p) => p === 0)).toBe(true);
    expect(sink.maxInFlight).toBe(1);
    // Every notification has its record; the head's shows its five attempts.
    const head = sink.received[0]!.body.message.eventId;
    const record = await call(stack, 'GET', `/instances/${id}/events/${head}`);
    expect(record.body.status).toBe('delivered');
    expect(record.body.attempts.map((a: { status: number }) => a.status)).toEqual([503, 503, 500, 500, 200]);
    await call(stack, 'DELETE', `/instances/${id}`);
  } finally {
    await sink.stop();
  }
});

test('unordered: the notifications of a batch are posted at once', async () => {
  const sink = new CallbackSink();
  await sink.start();
  try {
    const { id, uri } = await webhookInstance(sink.url, false);
    sink.holdMs = 300;
    const objectIds = Array.from({ length: 200 }, (_, i) => String(80_000 + i));
    await Promise.all(objectIds.map((objectId) => stack.freshbooks.sendWebhook('invoice.create', objectId, {}, { uri })));
    await sink.waitFor(() => sink.acceptedEvents().length >= 200, 120_000, 'all 200 changes');
    report('unordered delivery', {
      changes: objectIds.length,
      notifications: sink.accepted().length,
      'most posts in flight at once': sink.maxInFlight,
    });
    expect(new Set(sink.acceptedEvents().map((e) => e.objectId))).toEqual(new Set(objectIds));
    expect(sink.maxInFlight).toBeGreaterThan(1);
    await call(stack, 'DELETE', `/instances/${id}`);
  } finally {
    await sink.stop();
  }
});
