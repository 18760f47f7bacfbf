import { CallbackSink } from '../fakes/callback-sink';
import { call, createInstance, insightlySeedBody, sleep, startStack, type Stack } from './harness';

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
    await sleep(6000); // longer than the first retry interval: a second success would show by now
    const attempts = ours();
    expect(attempts.map((r) => r.answered)).toEqual([500, 200]);
    expect(attempts[1]!.body.message.eventId).toBe(attempts[0]!.body.message.eventId);
    expect(attempts[1]!.rawBody).toBe(attempts[0]!.rawBody);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(3500); // Cloud Elements' first gap: 4 s
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
