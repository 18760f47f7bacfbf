import type { temporal } from '@temporalio/proto';
import { insightlyDate, type InsightlyObject, type SearchCall } from '../fakes/insightly';
import { call, createInstance, insightlySeedBody, report, sleep, startStack, type Stack } from './harness';
import { decodedHistory } from './history-payloads';

jest.setTimeout(180_000);

// 0.02 minutes = 1.2 s between polls, allowed by EVENTS_MIN_REFRESH_INTERVAL_MINUTES in the harness.
const FAST = '0.02';
const isoOfInsightly = (date: unknown) => new Date(`${String(date).replace(' ', 'T')}Z`).toISOString();

/**
 * Faults of the provider while polling (its daily quota, per-second limits without Retry-After, the
 * list shifting between pages), and changes to a polling instance (PATCH, DELETE) while it polls,
 * all through the real Temporal, the real API and real HTTP to the fake Insightly.
 */
describe('Insightly polling under provider faults and instance changes', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });
  /** Instances the test made: deleted after it even when it fails, so no poll of theirs reaches the next test. */
  const instances: number[] = [];
  afterEach(async () => {
    for (const id of instances.splice(0)) await call(stack, 'DELETE', `/instances/${id}`);
    const { insightly } = stack;
    insightly.beforeSearch = insightly.afterSearch = undefined;
    insightly.latencyMs = 0;
    insightly.order = 'id';
    insightly.rateLimitPerSecond = 10;
    insightly.rateLimitRetryAfter = '1';
    insightly.dailyQuota = 100_000;
    insightly.resetDailyQuota();
  });

  /** An instance watching these resources (the seed's defaults plus what is given), polling every 1.2 s. */
  async function instanceWatching(resources: Record<string, object>, refreshInterval = FAST): Promise<number> {
    const body = insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval });
    const configuration = { ...body.configuration, 'event.poller.configuration': resources };
    const { id } = await createInstance(stack, { ...body, configuration });
    instances.push(id);
    return id;
  }

  const view = async (id: number) => (await call(stack, 'GET', `/instances/${id}`)).body;
  const patch = (id: number, configuration: Record<string, unknown>) =>
    call(stack, 'PATCH', `/instances/${id}`, { json: { configuration } });

  // Views are JSON the tests pick apart freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function waitForView(id: number, ok: (v: any) => boolean, what: string) {
    for (let tries = 0; ; tries++) {
      const v = await view(id);
      if (ok(v)) return v;
      if (tries > 600) throw new Error(`instance ${id}: ${what} never happened; status ${JSON.stringify(v?.status)}`);
      await sleep(100);
    }
  }
  const waitForPolls = async (id: number, polls: number) => waitForView(id, (v) => v.status.polls >= polls, `${polls} polls`);

  /** The instance's notifications, each eventId once (a repeat is delivery's at-least-once, not a second report). */
  function notesOf(id: number) {
    return [
      ...new Map(
        stack.sink
          .accepted()
          .filter((r) => r.body.message.instanceId === id)
          .map((r) => [r.body.message.eventId, r]),
      ).values(),
    ];
  }
  const eventsOf = (id: number) =>
    notesOf(id).flatMap((r) => r.body.message.events.map((e) => ({ ...e, eventId: r.body.message.eventId })));

  /** Per change (objectId@date): the eventIds it was reported under. */
  function reportsByChange(id: number): Map<string, Set<string>> {
    const byChange = new Map<string, Set<string>>();
    for (const e of eventsOf(id)) {
      const key = `${e.objectId}@${e.date}`;
      byChange.set(key, (byChange.get(key) ?? new Set()).add(e.eventId));
    }
    return byChange;
  }
  const changeKey = (idField: string, record: Record<string, unknown>) =>
    `${String(record[idField])}@${isoOfInsightly(record.DATE_UPDATED_UTC)}`;

  /** The provider's searches made by polls (the credentials check at creation and PATCH has no date). */
  const pollSearches = (object: InsightlyObject, from = 0): SearchCall[] =>
    stack.insightly.calls.slice(from).filter((c) => c.object === object && c.query.updated_after_utc !== undefined);

  async function history(id: number): Promise<temporal.api.history.v1.IHistoryEvent[]> {
    // Decoded: failure messages are encrypted in the history as stored.
    return (await decodedHistory(stack.client, `instance-${id}`)).events ?? [];
  }

  test('the daily quota used up: each poll makes one request and fails with a clear lastError; the poll after it renews catches up', async () => {
    const { insightly } = stack;
    const id = await instanceWatching({ contacts: {} });
    await waitForPolls(id, 1);
    insightly.dailyQuota = insightly.quotaUsed; // nothing left today
    const firstRefused = insightly.calls.length;
    const made = [0, 1, 2].map((i) => insightly.create('Contacts', { FIRST_NAME: `During the outage ${i}` }));

    const failing = await waitForView(id, (v) => /daily/.test(v.status.resources.contacts?.lastError ?? ''), 'the quota error');
    const lastError: string = failing.status.resources.contacts.lastError;
    expect(lastError).toMatch(/^Insightly's daily request quota is used up \(GET \/Contacts\/Search\?updated_after_utc=/);
    expect(lastError).not.toContain(insightly.apiKey);
    const pollsAtError: number = failing.status.polls;
    await waitForPolls(id, pollsAtError + 3); // three more polls in the outage
    insightly.resetDailyQuota(); // a new day

    const expected = new Set(made.map((r) => changeKey('CONTACT_ID', r)));
    await stack.sink.waitFor(() => [...expected].every((k) => reportsByChange(id).has(k)), 30_000, 'the changes made in the outage');
    const recovered = await waitForView(
      id,
      (v) => v.status.polls > pollsAtError + 3 && !v.status.resources.contacts?.lastError,
      'a successful poll',
    );
    expect(recovered.status.resources.contacts.watermark > failing.status.resources.contacts.watermark).toBe(true);
    await sleep(2500); // two more polls re-read the overlap: nothing may be reported again

    // Each poll in the outage was one request and one failed activity attempt: neither the element
    // nor Temporal retried a quota that retrying cannot renew.
    const refused = insightly.calls.slice(firstRefused).filter((c) => c.status === 429).length;
    const events = await history(id);
    const quotaFailures = events.filter((e) =>
      /daily request quota/.test(e.activityTaskFailedEventAttributes?.failure?.message ?? ''),
    ).length;
    const activityRetries = events.filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1).length;
    const reports = reportsByChange(id);
    const duplicates = [...reports.values()].filter((ids) => ids.size > 1).length;
    const lost = [...expected].filter((k) => !reports.has(k)).length;
    report('daily quota', {
      refused,
      failedPolls: quotaFailures,
      activityRetries,
      changes: expected.size,
      reported: reports.size,
      lost,
      duplicates,
    });
    expect(quotaFailures).toBeGreaterThanOrEqual(4);
    expect(refused).toBe(quotaFailures);
    expect(activityRetries).toBe(0);
    expect(insightly.calls.slice(firstRefused).filter((c) => c.status === 429 && c.object !== 'Contacts')).toEqual([]);
    expect(lost).toBe(0);
    expect(duplicates).toBe(0);
    expect(reports.size).toBe(expected.size);
    expect(eventsOf(id).every((e) => e.eventType === 'CREATED')).toBe(true);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });

  test('per-second 429s without Retry-After: the element backs off on its own within the poll; nothing lost, no poll error', async () => {
    const { insightly } = stack;
    // Four resources polled at once against two requests a second: every poll is refused in part.
    insightly.rateLimitPerSecond = 2;
    insightly.rateLimitRetryAfter = undefined;
    const id = await instanceWatching({ contacts: {}, accounts: {}, leads: {}, opportunities: {} }, '0.05');
    const first = insightly.calls.length;
    const made: [string, Record<string, unknown>][] = [
      ['CONTACT_ID', insightly.create('Contacts')],
      ['ORGANISATION_ID', insightly.create('Organisations')],
      ['LEAD_ID', insightly.create('Leads')],
      ['OPPORTUNITY_ID', insightly.create('Opportunities')],
    ];
    const expected = new Set(made.map(([field, r]) => changeKey(field, r)));
    await stack.sink.waitFor(() => [...expected].every((k) => reportsByChange(id).has(k)), 60_000, 'the four changes');
    const polls: number = (await view(id)).status.polls;
    await waitForPolls(id, polls + 1); // one more whole poll: nothing reported again

    const calls = insightly.calls.slice(first);
    const refused = calls.filter((c) => c.status === 429).length;
    const v = await view(id);
    const pollErrors = Object.values(v.status.resources as Record<string, { lastError?: string }>).filter((r) => r.lastError).length;
    const activityRetries = (await history(id)).filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1).length;
    const reports = reportsByChange(id);
    const duplicates = [...reports.values()].filter((ids) => ids.size > 1).length;
    report('per-second 429s without Retry-After', {
      refused,
      activityRetries,
      pollErrors,
      changes: expected.size,
      reported: reports.size,
      duplicates,
    });
    expect(refused).toBeGreaterThan(0);
    expect(activityRetries).toBe(0); // the element waited and retried, not Temporal
    expect(pollErrors).toBe(0);
    expect(duplicates).toBe(0);
    expect([...reports.keys()].sort()).toEqual([...expected].sort());
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });

  test('records deleted and re-dated while a poll pages through: nothing that stayed changed is lost, nothing reported twice', async () => {
    const { insightly } = stack;
    insightly.rateLimitPerSecond = 0;
    insightly.order = 'updated'; // an update moves a record to the end of the list
    // Pages of 4 (5 read, one shared with the page before), and no overlap re-read: only the poll's own paging can find them.
    const id = await instanceWatching({ contacts: { pageSize: 4, pollOverlap: 0 } });
    await waitForPolls(id, 1);
    const made: Record<string, unknown>[] = [];
    let windowSearch: SearchCall | undefined;
    const deleted: number[] = [];
    let redated: Record<string, unknown> | undefined;
    // During a real poll's first page: 12 records appear dated at its window's start; once that page
    // is answered, two of them are deleted and one is changed again, so the rest shift back a page.
    insightly.beforeSearch = (c) => {
      if (windowSearch || c.object !== 'Contacts' || c.query.skip !== '0' || !c.query.updated_after_utc) return;
      windowSearch = c;
      const at = Date.parse(`${c.query.updated_after_utc.replace(' ', 'T')}Z`);
      for (let i = 0; i < 12; i++) made.push(insightly.create('Contacts', { FIRST_NAME: `Paged ${i}` }, at));
    };
    insightly.afterSearch = (c) => {
      if (c !== windowSearch || deleted.length) return;
      for (const r of [made[1]!, made[2]!]) {
        insightly.delete('Contacts', r.CONTACT_ID as number);
        deleted.push(r.CONTACT_ID as number);
      }
      redated = insightly.update('Contacts', made[3]!.CONTACT_ID as number, { FIRST_NAME: 'Changed again' });
    };
    await stack.sink.waitFor(() => redated !== undefined, 30_000, 'the poll that pages through the changes');
    const stayed = made.filter((r) => !deleted.includes(r.CONTACT_ID as number) && r !== made[3]).map((r) => changeKey('CONTACT_ID', r));
    const latest = changeKey('CONTACT_ID', redated!);
    await stack.sink.waitFor(() => [...stayed, latest].every((k) => reportsByChange(id).has(k)), 30_000, 'every change that stayed');
    const polls: number = (await view(id)).status.polls;
    await waitForPolls(id, polls + 2);

    const window = insightly.calls.filter(
      (c) => c.object === 'Contacts' && c.query.updated_after_utc === windowSearch!.query.updated_after_utc,
    );
    const reads = window.filter((c) => c.query.skip === '0').length;
    const reports = reportsByChange(id);
    const ours = new Set(made.map((r) => String(r.CONTACT_ID)));
    const reportedTwice = [...reports.entries()].filter(([k, ids]) => ours.has(k.split('@')[0]!) && ids.size > 1).length;
    const lost = [...stayed, latest].filter((k) => !reports.has(k)).length;
    const deletedReported = deleted.filter((d) => [...reports.keys()].some((k) => k.startsWith(`${d}@`))).length;
    report('pages shifting mid-poll', {
      records: made.length,
      deleted: deleted.length,
      redated: 1,
      readsFromFirstPage: reads,
      lost,
      reportedTwice,
      deletedReported,
    });
    expect(reads).toBe(2); // the shift was noticed, and the window read again from its first page
    expect(lost).toBe(0);
    expect(reportedTwice).toBe(0);
    // Deleted after the first page showed them: reported as changed in the window, once each.
    expect(deletedReported).toBe(2);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });

  test('PATCH of the refresh interval: the workflow schedules the next polls on the new interval', async () => {
    const id = await instanceWatching({ contacts: {} });
    const before = await waitForPolls(id, 2);
    const fastStep =
      Date.parse((await waitForView(id, (v) => v.status.polls > before.status.polls, 'a poll')).status.nextPollAt) -
      Date.parse(before.status.nextPollAt);

    const patched = await patch(id, { 'event.poller.refresh_interval': '0.05' }); // 3 s
    expect(patched.status).toBe(200);
    const decided = Date.parse(patched.body.status.nextPollAt);
    const after = await waitForView(id, (v) => v.status.polls > patched.body.status.polls, 'the poll after the PATCH');
    const next = await waitForView(id, (v) => v.status.polls > after.status.polls, 'the poll after that');
    const lastPollAt = Date.parse(after.status.resources.contacts.lastPollAt);
    const slowSteps = [
      Date.parse(after.status.nextPollAt) - decided,
      Date.parse(next.status.nextPollAt) - Date.parse(after.status.nextPollAt),
    ];
    report('interval PATCHed from 1.2 s to 3 s', {
      stepBefore: fastStep,
      stepAfter1: slowSteps[0]!,
      stepAfter2: slowSteps[1]!,
      pollBeforeDecided: lastPollAt < decided ? 1 : 0,
    });
    expect(fastStep).toBe(1200);
    expect(slowSteps).toEqual([3000, 3000]);
    expect(lastPollAt).toBeGreaterThanOrEqual(decided); // the first poll after the PATCH waited for the time decided
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });

  test('PATCH adding a resource: it is watched from the PATCH, not from the beginning; removing one stops its polls and drops its watermark', async () => {
    const { insightly } = stack;
    const id = await instanceWatching({ contacts: {} });
    await waitForPolls(id, 1);
    // Leads changed before the PATCH, inside the default 60 s overlap: the new resource must not re-read them.
    const earlier = [0, 1].map((i) => insightly.create('Leads', { LAST_NAME: `Before ${i}` }, Date.now() - 2000));
    const callsBeforeAdding = insightly.calls.length;
    const added = await patch(id, { 'event.poller.configuration': { contacts: {}, leads: {} } });
    expect(added.status).toBe(200);
    const watermark: string = added.body.status.resources.leads.watermark;
    expect(Date.parse(watermark)).toBeGreaterThan(Date.parse(isoOfInsightly(earlier[1]!.DATE_UPDATED_UTC)));
    await sleep(1100); // later changes in a later second than the watermark
    const later = [0, 1].map((i) => insightly.create('Leads', { LAST_NAME: `After ${i}` }));
    await stack.sink.waitFor(
      () => later.every((r) => reportsByChange(id).has(changeKey('LEAD_ID', r))),
      30_000,
      'the leads changed after the PATCH',
    );
    const firstLeadsRead = pollSearches('Leads', callsBeforeAdding)[0]!;

    // Removing contacts while a contacts poll is in flight: the PATCH waits for it, and its result must not bring contacts back.
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let inFlight = false;
    insightly.beforeSearch = async (c) => {
      if (inFlight || c.object !== 'Contacts' || !c.query.updated_after_utc) return;
      inFlight = true;
      await held;
    };
    await stack.sink.waitFor(() => inFlight, 30_000, 'a contacts poll in flight');
    const removing = patch(id, { 'event.poller.configuration': { leads: {} } });
    await waitForView(id, (v) => !('contacts' in v.configuration['event.poller.configuration']), 'the PATCH reaching the workflow');
    release();
    const removed = await removing;
    expect(removed.status).toBe(200);
    const searchesAtRemoval = pollSearches('Contacts').length;
    const polls: number = (await view(id)).status.polls;
    const settled = await waitForPolls(id, polls + 3);
    const contactsAfter = pollSearches('Contacts').length - searchesAtRemoval;

    const reports = reportsByChange(id);
    const earlierReported = earlier.filter((r) => [...reports.keys()].some((k) => k.startsWith(`${String(r.LEAD_ID)}@`))).length;
    const laterReported = later.filter((r) => reports.get(changeKey('LEAD_ID', r))?.size === 1).length;
    report('resources PATCHed', {
      changedBeforeAdding: earlier.length,
      reportedOfThose: earlierReported,
      changedAfter: later.length,
      reportedOnce: laterReported,
      contactsPollsAfterRemoval: contactsAfter,
    });
    expect(firstLeadsRead.query.updated_after_utc).toBe(insightlyDate(Date.parse(watermark)));
    expect(earlierReported).toBe(0);
    expect(laterReported).toBe(2);
    expect(contactsAfter).toBe(0);
    expect(Object.keys(removed.body.status.resources)).toEqual(['leads']);
    expect(Object.keys(settled.status.resources)).toEqual(['leads']);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });

  test('events turned off then on: changes made while off are not reported, changes after are', async () => {
    const { insightly } = stack;
    const id = await instanceWatching({ contacts: {} });
    await waitForPolls(id, 1);
    const off = await patch(id, { 'event.notification.enabled': false });
    expect(off.status).toBe(200);
    expect(off.body.status.nextPollAt).toBeUndefined();
    const searchesWhenOff = pollSearches('Contacts').length;
    const whileOff = [0, 1, 2].map((i) => insightly.create('Contacts', { FIRST_NAME: `While off ${i}` }));
    await sleep(3700); // three intervals: no poll may run
    const pollsWhileOff = pollSearches('Contacts').length - searchesWhenOff;

    const on = await patch(id, { 'event.notification.enabled': true });
    expect(on.status).toBe(200);
    expect(Date.parse(on.body.status.resources.contacts.watermark)).toBeGreaterThan(
      Date.parse(isoOfInsightly(whileOff[2]!.DATE_UPDATED_UTC)),
    );
    await sleep(1100);
    const afterOn = [0, 1].map((i) => insightly.create('Contacts', { FIRST_NAME: `After on ${i}` }));
    await stack.sink.waitFor(
      () => afterOn.every((r) => reportsByChange(id).has(changeKey('CONTACT_ID', r))),
      30_000,
      'the changes after events came back',
    );
    const polls: number = (await view(id)).status.polls;
    await waitForPolls(id, polls + 2); // re-reads of the 60 s overlap: still nothing from while off

    const reports = reportsByChange(id);
    const reportedWhileOff = whileOff.filter((r) => [...reports.keys()].some((k) => k.startsWith(`${String(r.CONTACT_ID)}@`))).length;
    const reportedAfter = afterOn.filter((r) => reports.get(changeKey('CONTACT_ID', r))?.size === 1).length;
    report('events off then on', {
      pollsWhileOff,
      changedWhileOff: whileOff.length,
      reportedOfThose: reportedWhileOff,
      changedAfter: afterOn.length,
      reportedOnce: reportedAfter,
    });
    expect(pollsWhileOff).toBe(0);
    expect(reportedWhileOff).toBe(0);
    expect(reportedAfter).toBe(2);
    expect(reports.size).toBe(2);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });

  test('pollDelay: a record dated inside the delay is left to a later poll and reported exactly once', async () => {
    const { insightly } = stack;
    const id = await instanceWatching({ contacts: { pollDelay: 2 } });
    await waitForPolls(id, 1);
    let seenBy: SearchCall | undefined;
    let record: Record<string, unknown> | undefined;
    // Made while a poll reads, dated then: within that poll's 2 s delay, so its window ends before it.
    insightly.beforeSearch = (c) => {
      if (record || c.object !== 'Contacts' || !c.query.updated_after_utc) return;
      seenBy = c;
      record = insightly.create('Contacts', { FIRST_NAME: 'Delayed' }, c.at);
    };
    await stack.sink.waitFor(
      () => record !== undefined && reportsByChange(id).has(changeKey('CONTACT_ID', record)),
      30_000,
      'the delayed record',
    );
    const polls: number = (await view(id)).status.polls;
    await waitForPolls(id, polls + 3); // the overlap re-reads it again: not reported again
    insightly.beforeSearch = undefined;

    const key = changeKey('CONTACT_ID', record!);
    const note = notesOf(id).find((r) => r.body.message.events.some((e) => `${e.objectId}@${e.date}` === key))!;
    // Searches whose window start was at or before it, from the one it was made during on (re-reads of the overlap included).
    const reportedWindowEnd = Date.parse(note.body.message.date);
    const recordMs = Date.parse(isoOfInsightly(record!.DATE_UPDATED_UTC));
    const readsBefore = pollSearches('Contacts').filter(
      (c) => c.at >= seenBy!.at && Date.parse(`${c.query.updated_after_utc!.replace(' ', 'T')}Z`) <= recordMs,
    ).length;
    const eventIds = reportsByChange(id).get(key)!.size;
    report('pollDelay 2 s', {
      searchesCoveringIt: readsBefore,
      eventIds,
      reportingWindowEndsAfterIt: reportedWindowEnd > recordMs ? 1 : 0,
    });
    // The poll that first read it had a window ending 2 s before it: the one that reported it ended after it.
    expect(Date.parse(`${seenBy!.query.updated_after_utc!.replace(' ', 'T')}Z`)).toBeLessThanOrEqual(recordMs);
    expect(reportedWindowEnd).toBeGreaterThan(recordMs);
    expect(readsBefore).toBeGreaterThanOrEqual(2);
    expect(eventIds).toBe(1);
    expect(reportsByChange(id).size).toBe(1);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });

  test('DELETE during a poll: DELETE answers, the poll is cancelled, no search after it, notifications handed over before are delivered', async () => {
    const { insightly } = stack;
    const id = await instanceWatching({ contacts: {}, leads: {} });
    await waitForPolls(id, 1);
    const contacts = Array.from({ length: 25 }, (_, i) => insightly.create('Contacts', { FIRST_NAME: `Handed over ${i}` }));
    const handed = new Set(contacts.map((r) => changeKey('CONTACT_ID', r)));
    await stack.sink.waitFor(() => [...handed].every((k) => reportsByChange(id).has(k)), 30_000, 'the 25 contacts');

    // The next leads search is held; it would find leads changed in its window.
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let heldCall: SearchCall | undefined;
    insightly.beforeSearch = async (c) => {
      if (heldCall || c.object !== 'Leads' || !c.query.updated_after_utc) return;
      heldCall = c;
      await held;
    };
    const leads = [0, 1, 2].map((i) => insightly.create('Leads', { LAST_NAME: `In the cancelled poll ${i}` }));
    await stack.sink.waitFor(() => heldCall !== undefined, 30_000, 'a leads poll in flight');
    const del = await call(stack, 'DELETE', `/instances/${id}`);
    expect([del.status, del.body]).toEqual([200, { id, deleted: true }]);
    const callsAtDelete = insightly.calls.length;
    release();
    await sleep(4000); // more than three intervals

    // The held search was answered after DELETE, but asked before it.
    const searchesAfterDelete = insightly.calls.slice(callsAtDelete).filter((c) => c !== heldCall).length;
    const events = await history(id);
    const cancelRequested = events.filter((e) => e.activityTaskCancelRequestedEventAttributes).length;
    const described = await stack.client.workflow.getHandle(`instance-${id}`).describe();
    const reports = reportsByChange(id);
    const handedDelivered = [...handed].filter((k) => reports.get(k)?.size === 1).length;
    const leadsDelivered = leads.filter((r) => reports.has(changeKey('LEAD_ID', r))).length;
    report('DELETE during a poll', {
      searchesAfterDelete,
      cancelRequested,
      handedOver: handed.size,
      delivered: handedDelivered,
      cancelledPollDelivered: leadsDelivered,
    });
    expect(searchesAfterDelete).toBe(0);
    expect(cancelRequested).toBe(1);
    expect(described.status.name).toBe('COMPLETED');
    expect(handedDelivered).toBe(25);
    expect(notesOf(id).filter((r) => r.body.message.raw.objectType === 'contacts')).toHaveLength(3);
    expect(leadsDelivered).toBe(0);
    expect((await call(stack, 'GET', `/instances/${id}`)).status).toBe(404);
  });
});
