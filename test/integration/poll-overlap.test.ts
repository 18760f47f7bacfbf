import { call, createInstance, insightlySeedBody, sleep, startStack, type Stack } from './harness';

jest.setTimeout(180_000);

// 0.02 minutes = 1.2 s between polls, allowed by EVENTS_MIN_REFRESH_INTERVAL_MINUTES in the harness.
const FAST = '0.02';
// Production scale is Insightly's search lagging ~30 s behind DATE_UPDATED_UTC with the 60 s default
// overlap and 15-minute polls. Scaled down so the test runs in about half a minute: search lags 3 s,
// polls re-read 10 s, and the stream of changes runs over ~10 polls.
const LAG_MS = 3_000;
const OVERLAP_SECONDS = 10;
const STREAM_MS = 12_000;
const TICK_MS = 300;

const isoOfInsightly = (date: unknown) => new Date(`${String(date).replace(' ', 'T')}Z`).toISOString();

interface Change {
  objectId: string;
  date: string;
  eventType: 'CREATED' | 'UPDATED';
}

describe('Insightly search lagging behind DATE_UPDATED_UTC: the overlap re-read', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** An instance watching contacts only, with this pollOverlap. */
  async function contactsInstance(pollOverlap: number): Promise<number> {
    const body = insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: FAST });
    const configuration = { ...body.configuration, 'event.poller.configuration': { contacts: { pollOverlap } } };
    return (await createInstance(stack, { ...body, configuration })).id;
  }

  /** The instance's events, each notification counted once: a repeated eventId is delivery's at-least-once, not a second report. */
  function eventsOf(id: number) {
    const byEventId = new Map(
      stack.sink
        .accepted()
        .filter((r) => r.body.message.instanceId === id)
        .map((r) => [r.body.message.eventId, r]),
    );
    return [...byEventId.values()].flatMap((r) => r.body.message.events);
  }

  /** Waits until the instance's contacts watermark, less `overlapSeconds`, is past `ms`: no later poll re-reads anything dated up to it. */
  async function waitForWatermarkPast(id: number, ms: number, overlapSeconds: number): Promise<void> {
    for (let tries = 0; ; tries++) {
      const view = await call(stack, 'GET', `/instances/${id}`);
      const watermark = view.body?.status?.resources?.contacts?.watermark as string | undefined;
      if (watermark && Date.parse(watermark) - overlapSeconds * 1000 > ms) return;
      if (tries > 600) throw new Error(`instance ${id}: contacts watermark ${watermark} never passed ${new Date(ms).toISOString()}`);
      await sleep(200);
    }
  }

  test('a stream of changes, several in each boundary second, is reported exactly once; without the overlap some are missed', async () => {
    const { insightly } = stack;
    const withOverlap = await contactsInstance(OVERLAP_SECONDS);
    const withoutOverlap = await contactsInstance(0);
    await sleep(1100); // changes strictly after both instances were created

    insightly.indexLagMs = LAG_MS;
    const changes: Change[] = [];
    const created = (record: Record<string, unknown>) =>
      changes.push({ objectId: String(record.CONTACT_ID), date: isoOfInsightly(record.DATE_UPDATED_UTC), eventType: 'CREATED' });
    // Records dated in the second a poll reads (its window's end): hidden from the next polls too,
    // so only the re-read can find them.
    let boundaryReads = 0;
    insightly.beforeSearch = (c) => {
      if (c.object !== 'Contacts' || boundaryReads++ >= 6) return;
      for (let i = 0; i < 3; i++) created(insightly.create('Contacts', { FIRST_NAME: `Boundary ${boundaryReads}.${i}` }, c.at));
    };

    const updated = new Set<string>();
    const streamEnd = Date.now() + STREAM_MS;
    for (let tick = 0; Date.now() < streamEnd; tick++) {
      for (let i = 0; i <= tick % 3; i++) created(insightly.create('Contacts', { FIRST_NAME: `Stream ${tick}.${i}` }));
      if (tick % 4 === 3) {
        // A new change to a record already reported: it is read again in the overlap with its old date
        // (the index still shows that) and then with its new one, which must be reported.
        const target = eventsOf(withOverlap).find((e) => e.eventType === 'CREATED' && !updated.has(e.objectId));
        if (target) {
          updated.add(target.objectId);
          const record = insightly.update('Contacts', Number(target.objectId), { FIRST_NAME: `Updated ${tick}` });
          changes.push({ objectId: target.objectId, date: isoOfInsightly(record.DATE_UPDATED_UTC), eventType: 'UPDATED' });
        }
      }
      await sleep(TICK_MS);
    }
    insightly.beforeSearch = undefined;
    const lastChangeMs = Math.max(...changes.map((c) => Date.parse(c.date)));

    // Every change visible, and every re-read that covers one done; then the last poll's deliveries land.
    await waitForWatermarkPast(withOverlap, lastChangeMs, OVERLAP_SECONDS);
    await waitForWatermarkPast(withoutOverlap, lastChangeMs, 0);
    await sleep(2000);

    const key = (c: { objectId: string; date: string }) => `${c.objectId}@${c.date}`;
    const expected = new Map(changes.map((c) => [key(c), c.eventType]));
    const reported = new Map<string, number>();
    for (const e of eventsOf(withOverlap)) {
      expect(e.eventType).toBe(expected.get(key(e)));
      reported.set(key(e), (reported.get(key(e)) ?? 0) + 1);
    }
    const duplicates = [...reported.values()].reduce((n, count) => n + count - 1, 0);
    const missing = [...expected.keys()].filter((k) => !reported.has(k));
    const missedWithout = [...expected.keys()].filter((k) => !eventsOf(withoutOverlap).some((e) => key(e) === k)).length;
    process.stdout.write(
      `overlap: changes ${expected.size} (${updated.size} updates), reported ${reported.size}, duplicates ${duplicates}, missing ${missing.length}; ` +
        `without overlap: missed ${missedWithout}\n`,
    );

    expect(changes).toHaveLength(expected.size); // each change is its own (objectId, date)
    expect(updated.size).toBeGreaterThan(0);
    expect(missing).toEqual([]);
    expect(duplicates).toBe(0);
    expect([...reported.keys()].sort()).toEqual([...expected.keys()].sort());
    // The same stream, polled without re-reading: the lagging records fall into closed windows.
    expect(missedWithout).toBeGreaterThan(0);

    // The remembered changes stay in the workflow: the API's view of a resource is as small as before.
    const view = await call(stack, 'GET', `/instances/${withOverlap}`);
    for (const field of Object.keys(view.body.status.resources.contacts)) {
      expect(['watermark', 'lastPollAt', 'lastEvents', 'lastError']).toContain(field);
    }
    for (const id of [withOverlap, withoutOverlap]) await call(stack, 'DELETE', `/instances/${id}`);
  });
});
