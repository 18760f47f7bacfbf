import { once } from 'node:events';
import { call, createInstance, insightlySeedBody, repeatsAreIdentical, report, sleep, startStack, type Stack } from './harness';

jest.setTimeout(180_000);

describe('a worker killed in the middle of a poll', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: 'none' });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('loses nothing, and reports nothing twice except as a retry with the same eventId', async () => {
    const { insightly, sink } = stack;
    let worker = await stack.spawnWorker();
    // A 6 s interval and records made right after creation: the instance's first poll is the one
    // that must report them, and it is the one killed (it is also the only poll that reads page 4).
    const body = insightlySeedBody({ callbackUrl: sink.url, refreshInterval: '0.1' });
    body.configuration['event.poller.configuration'] = {
      contacts: {
        url: "/hubs/crm/contacts?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss}'",
        idField: 'CONTACT_ID',
        pageSize: 100,
      },
    } as never;
    const { id } = await createInstance(stack, body);
    const workerPid = worker.pid!;
    const expected = new Set<string>();
    for (let i = 0; i < 600; i++) expected.add(String(insightly.create('Contacts', { N: i }).CONTACT_ID));

    // Every page answers slowly, so the kill lands while the poll is reading pages.
    insightly.latencyMs = 300;
    let killedAtSkip: string | undefined;
    insightly.beforeSearch = (c) => {
      if (!killedAtSkip && c.query.skip === '300') {
        killedAtSkip = c.query.skip;
        worker.kill('SIGKILL');
      }
    };
    await sink.waitFor(() => killedAtSkip !== undefined, 60_000, 'the kill mid-poll');
    expect(sink.acceptedEvents().filter((e) => expected.has(e.objectId))).toHaveLength(0);
    if (worker.exitCode === null && worker.signalCode === null) await once(worker, 'exit');
    expect(worker.signalCode).toBe('SIGKILL');
    expect(() => process.kill(workerPid, 0)).toThrow(); // the worker process itself is gone
    insightly.latencyMs = 0;
    worker = await stack.spawnWorker();

    const ours = () => sink.acceptedEvents().filter((e) => expected.has(e.objectId));
    await sink.waitFor(() => new Set(ours().map((e) => e.objectId)).size >= 600, 120_000, 'all 600 events after the restart');
    await sleep(3000);

    const eventIdsByObject = new Map<string, Set<string>>();
    for (const e of ours()) {
      const ids = eventIdsByObject.get(e.objectId) ?? new Set<string>();
      ids.add(e.eventId);
      eventIdsByObject.set(e.objectId, ids);
    }
    const lost = [...expected].filter((o) => !eventIdsByObject.has(o)).length;
    const reportedTwice = [...eventIdsByObject.values()].filter((ids) => ids.size > 1).length;
    const sentAgain = repeatsAreIdentical(sink.accepted().filter((r) => r.body.message.events.some((e) => expected.has(e.objectId))));
    // Every delivery of an object beyond its first comes from a whole notification sent again under
    // its eventId (with its first bytes: repeatsAreIdentical checked them).
    const seenEventIds = new Set<string>();
    let objectsInRepeats = 0;
    for (const r of sink.accepted()) {
      if (seenEventIds.has(r.body.message.eventId))
        objectsInRepeats += r.body.message.events.filter((e) => expected.has(e.objectId)).length;
      seenEventIds.add(r.body.message.eventId);
    }
    report('worker kill', {
      sent: expected.size,
      delivered: eventIdsByObject.size,
      lost,
      'redelivered with the same eventId': sentAgain,
      'reported under a second eventId': reportedTwice,
    });
    expect(lost).toBe(0);
    expect(eventIdsByObject.size).toBe(expected.size);
    expect(reportedTwice).toBe(0);
    expect(ours().length - eventIdsByObject.size).toBe(objectsInRepeats);
    expect(objectsInRepeats > 0).toBe(sentAgain > 0);
    await call(stack, 'DELETE', `/instances/${id}`);
  });
});
