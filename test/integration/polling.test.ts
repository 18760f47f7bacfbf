import { createHmac } from 'node:crypto';
import {
  call,
  createInstance,
  historyText,
  INSIGHTLY_KEY,
  insightlySeedBody,
  notificationWorkflowId,
  sleep,
  startStack,
  type Stack,
} from './harness';

jest.setTimeout(120_000);

// 0.02 minutes = 1.2 s between polls, allowed by EVENTS_MIN_REFRESH_INTERVAL_MINUTES in the harness.
const FAST = '0.02';

describe('Insightly polling, end to end on a real Temporal', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('the seed body creates an instance; created and updated records arrive as CREATED and UPDATED', async () => {
    const { insightly, sink } = stack;
    const existingAccount = insightly.create('Organisations', { ORGANISATION_NAME: 'Acme' }, Date.now() - 3_600_000);
    const signatureKey = 'sig-key-for-tests';
    const created = await createInstance(stack, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: FAST, signatureKey }));
    expect(created.id).toEqual(expect.any(Number));
    expect(created.token).toEqual(expect.any(String));
    await sleep(1100); // changes strictly after the instance was created

    const contact = insightly.create('Contacts', { FIRST_NAME: 'Ada' });
    insightly.update('Organisations', existingAccount.ORGANISATION_ID as number, { ORGANISATION_NAME: 'Acme Ltd' });

    await sink.waitFor(() => sink.acceptedEvents().length >= 2, 30_000, 'two events');
    await sleep(3000); // a few more polls: nothing else may arrive
    const events = sink.acceptedEvents();
    expect(events).toHaveLength(2);
    const byType = Object.fromEntries(events.map((e) => [e.objectType, e]));
    expect(byType.contacts).toMatchObject({ eventType: 'CREATED', objectId: String(contact.CONTACT_ID), elementKey: 'insightly' });
    expect(byType.accounts).toMatchObject({ eventType: 'UPDATED', objectId: String(existingAccount.ORGANISATION_ID) });

    for (const received of sink.accepted()) {
      const { message } = received.body;
      expect(message.instanceId).toBe(created.id);
      expect(message.instanceName).toBe('API Instance with Polling');
      expect(message.instanceTags).toEqual(['Docs']);
      expect(received.headers['elements-webhook-id']).toBe(message.eventId);
      const expected = `sha256=${createHmac('sha256', signatureKey).update(received.rawBody).digest('base64')}`;
      expect(received.headers['elements-webhook-signature']).toBe(expected);
      expect(message.raw.objectType).toBe(message.events[0]!.objectType);
    }
    const contactNote = sink.accepted().find((r) => r.body.message.raw.objectType === 'contacts')!;
    expect(contactNote.body.message.raw.objects).toEqual([expect.objectContaining({ CONTACT_ID: contact.CONTACT_ID, FIRST_NAME: 'Ada' })]);
    const accountNote = sink.accepted().find((r) => r.body.message.raw.objectType === 'accounts')!;
    expect(accountNote.body.message.raw.objects?.[0]).toMatchObject({ ORGANISATION_NAME: 'Acme Ltd' });

    const view = await call(stack, 'GET', `/instances/${created.id}`);
    expect(view.status).toBe(200);
    expect(view.body.status.polls).toBeGreaterThan(1);
    expect(Object.keys(view.body.status.resources).sort()).toEqual(['accounts', 'contacts', 'leads', 'opportunities']);
    expect(view.body.configuration.password).toBe('********');
    expect(view.body.configuration['event.notification.signature.key']).toBe('********');

    // The API key and the signature key are sealed wherever they pass through Temporal.
    for (const workflowId of [`instance-${created.id}`, await notificationWorkflowId(stack, contactNote.body.message.eventId)]) {
      const history = await historyText(stack, workflowId);
      expect(history).toContain('sealed:v2:');
      expect(history).not.toContain(INSIGHTLY_KEY);
      expect(history).not.toContain(signatureKey);
    }

    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });

  test('25 records changed in the same second as a poll boundary are each reported exactly once', async () => {
    const { insightly, sink } = stack;
    const before = sink.acceptedEvents().length;
    const { id } = await createInstance(stack, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: FAST }));
    await sleep(1100);
    const ids: number[] = [];
    let armed = true;
    // During a real poll's read: 12 records appear just before the answer, 13 just after it, all
    // dated in the second of that read.
    insightly.beforeSearch = (c) => {
      if (!armed || c.object !== 'Contacts') return;
      for (let i = 0; i < 12; i++) ids.push(insightly.create('Contacts', { N: i }, c.at).CONTACT_ID as number);
    };
    insightly.afterSearch = (c) => {
      if (!armed || c.object !== 'Contacts') return;
      armed = false;
      for (let i = 12; i < 25; i++) ids.push(insightly.create('Contacts', { N: i }, c.at).CONTACT_ID as number);
    };
    const ours = () =>
      sink
        .acceptedEvents()
        .slice(before)
        .filter((e) => ids.includes(Number(e.objectId)));
    await sink.waitFor(() => ours().length >= 25, 30_000, '25 boundary events');
    await sleep(4000); // three more polls cover that second again; none may repeat an event
    insightly.beforeSearch = insightly.afterSearch = undefined;
    const seen = ours().map((e) => Number(e.objectId));
    expect(seen).toHaveLength(25);
    expect(new Set(seen)).toEqual(new Set(ids));
    expect(ours().every((e) => e.eventType === 'CREATED')).toBe(true);
    await call(stack, 'DELETE', `/instances/${id}`);
  });

  test('1,200 changed records over several pages are all delivered, at most 10 events a notification', async () => {
    const { insightly, sink } = stack;
    const { id } = await createInstance(stack, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: FAST }));
    await sleep(1100);
    const firstCall = insightly.calls.length;
    const changed = new Set<string>();
    const at = Date.now();
    for (let i = 0; i < 1200; i++) changed.add(String(insightly.create('Leads', { LAST_NAME: `Lead ${i}` }, at).LEAD_ID));
    const notes = () => sink.accepted().filter((r) => r.body.message.instanceId === id);
    await sink.waitFor(() => notes().flatMap((r) => r.body.message.events).length >= 1200, 60_000, '1,200 lead events');
    await sleep(2500);
    const events = notes().flatMap((r) => r.body.message.events);
    expect(events).toHaveLength(1200);
    expect(new Set(events.map((e) => e.objectId))).toEqual(changed);
    expect(events.every((e) => e.objectType === 'leads' && e.eventType === 'CREATED')).toBe(true);
    expect(Math.max(...notes().map((r) => r.body.message.events.length))).toBeLessThanOrEqual(10);
    expect(notes()).toHaveLength(120);
    for (const r of notes()) {
      expect(r.body.message.raw.objects?.map((o) => String(o.LEAD_ID))).toEqual(r.body.message.events.map((e) => e.objectId));
    }
    // Every page was read: the poll that found them asked for skip 0, 499 and 998 (each page starts
    // on the previous page's last record, to see that the list did not shift between them).
    const skips = insightly.calls
      .slice(firstCall)
      .filter((c) => c.object === 'Leads' && c.status === 200)
      .map((c) => c.query.skip);
    expect(skips).toEqual(expect.arrayContaining(['0', '499', '998']));
    await call(stack, 'DELETE', `/instances/${id}`);
  });

  test('DELETE stops the polling: no further calls reach the provider', async () => {
    const { insightly, sink } = stack;
    const { id } = await createInstance(stack, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: FAST }));
    await sleep(3000);
    const del = await call(stack, 'DELETE', `/instances/${id}`);
    expect([del.status, del.body]).toEqual([200, { id, deleted: true }]);
    const callsAfterDelete = insightly.calls.length;
    await sleep(4000); // more than three refresh intervals
    expect(insightly.calls.length).toBe(callsAfterDelete);
    expect((await call(stack, 'GET', `/instances/${id}`)).status).toBe(404);
    const list = await call(stack, 'GET', '/instances');
    expect(list.body.map((i: { id: number }) => i.id)).not.toContain(id);
    const described = await stack.client.workflow.getHandle(`instance-${id}`).describe();
    expect(described.status.name).toBe('COMPLETED');
  });
});
