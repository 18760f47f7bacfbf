import { createHmac } from 'node:crypto';
import { call, createInstance, insightlySeedBody, sleep, startStack, type Stack } from './harness';

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
    expect(accountNote.body.message.raw.objects[0]).toMatchObject({ ORGANISATION_NAME: 'Acme Ltd' });

    const view = await call(stack, 'GET', `/instances/${created.id}`);
    expect(view.status).toBe(200);
    expect(view.body.status.polls).toBeGreaterThan(1);
    expect(Object.keys(view.body.status.resources).sort()).toEqual(['accounts', 'contacts', 'leads', 'opportunities']);
    expect(view.body.configuration.password).toBe('********');
    expect(view.body.configuration['event.notification.signature.key']).toBe('********');

    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });
});
