import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { withSink, type Received } from '../fakes/callback-sink';
import { getDeliveryQuery } from '../../src/workflows/messages';
import { deliveryWorkflowId } from '../../src/workflows/ids';
import { call, createInstance, insightlySeedBody, report, sleep, startStack, type Stack } from './harness';

jest.setTimeout(120_000);

const whsec = () => `whsec_${randomBytes(32).toString('base64')}`;
const elementsSignatureOf = (body: string, key: string) => `sha256=${createHmac('sha256', key).update(body, 'utf8').digest('base64')}`;
const header = (r: Received, name: string) => String(r.headers[name] ?? '');

describe('retries and redeliveries follow the instance', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Three attempts 2 s then 8 s apart: room for a PATCH between two attempts.
    stack = await startStack({ env: { DELIVERY_FIRST_RETRY_SECONDS: '2', DELIVERY_MAX_ATTEMPTS: '3' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function pollingInstance(callbackUrl: string, extra: Record<string, unknown> = {}) {
    const body = insightlySeedBody({ callbackUrl, refreshInterval: '0.02' });
    Object.assign(body.configuration, extra);
    const created = await createInstance(stack, body);
    await sleep(1100); // records made from now on are after the instance's first watermark
    return created;
  }
  const record = async (id: number, eventId: string) => (await call(stack, 'GET', `/instances/${id}/events/${eventId}`)).body;

  test('a failed notification, its callback URL PATCHed, redelivered: the new URL gets it, the old one nothing more', async () => {
    await withSink(async (next) => {
      const { insightly, sink } = stack;
      const { id } = await pollingInstance(sink.url);
      sink.answerNext(500, 500, 500);
      const contact = insightly.create('Contacts', { N: 1 });
      const ofContact = (r: Received) => r.body.message.events.some((e) => e.objectId === String(contact.CONTACT_ID));
      await sink.waitFor(() => sink.received.filter(ofContact).length >= 3, 60_000, 'three failed attempts');
      const eventId = sink.received.find(ofContact)!.body.message.eventId;
      for (let i = 0; i < 100 && (await record(id, eventId)).status !== 'failed'; i++) await sleep(100);

      const patched = await call(stack, 'PATCH', `/instances/${id}`, {
        json: { configuration: { 'event.notification.callback.url': next.url } },
      });
      expect(patched.status).toBe(200);
      expect((await call(stack, 'POST', `/instances/${id}/events/${eventId}/redeliver`)).status).toBe(200);
      await next.waitFor(() => next.accepted().some(ofContact), 20_000, 'the redelivery at the new URL');
      const after = await record(id, eventId);
      await sleep(1000);
      const oldHits = sink.received.filter(ofContact).length;
      report('redelivery after a URL change', {
        'attempts at the old URL': oldHits,
        'attempts at the new URL': next.received.filter(ofContact).length,
      });
      expect(oldHits).toBe(3);
      expect(next.received.filter(ofContact)).toHaveLength(1);
      expect(after.status).toBe('delivered');
      expect(after.attempts.map((a: { url: string }) => a.url)).toEqual([sink.url, sink.url, sink.url, next.url]);
      expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
    });
  });

  test('a signing key PATCHed between attempts: the next one is signed with the new keys and, in the grace period, the old', async () => {
    const { insightly, sink } = stack;
    const [oldKey, newKey, oldSecret, newSecret] = ['old-signing-key', 'new-signing-key', whsec(), whsec()];
    const { id } = await pollingInstance(sink.url, {
      'event.notification.signature.key': oldKey,
      'event.notification.webhook.secret': oldSecret,
    });
    sink.answerNext(503);
    const contact = insightly.create('Contacts', { N: 2 });
    const ofContact = (r: Received) => r.body.message.events.some((e) => e.objectId === String(contact.CONTACT_ID));
    await sink.waitFor(() => sink.received.filter(ofContact).length >= 1, 60_000, 'the first attempt');
    const patched = await call(stack, 'PATCH', `/instances/${id}`, {
      json: { configuration: { 'event.notification.signature.key': newKey, 'event.notification.webhook.secret': newSecret } },
    });
    expect(patched.status).toBe(200);
    await sink.waitFor(() => sink.accepted().some(ofContact), 30_000, 'the retry');
    const [first, retry] = sink.received.filter(ofContact) as [Received, Received];

    // The first attempt: the old keys only. The retry: the new key in our header and the old one in its
    // own; both in the Standard Webhooks list, new first.
    expect(header(first, 'elements-webhook-signature')).toBe(elementsSignatureOf(first.rawBody, oldKey));
    expect(header(retry, 'elements-webhook-signature')).toBe(elementsSignatureOf(retry.rawBody, newKey));
    expect(header(retry, 'elements-webhook-signature-previous')).toBe(elementsSignatureOf(retry.rawBody, oldKey));
    expect(header(first, 'elements-webhook-signature-previous')).toBe('');
    const headers = { ...retry.headers } as Record<string, string>;
    const verifies = (secret: string) => {
      try {
        new Webhook(secret).verify(retry.rawBody, headers);
        return true;
      } catch {
        return false;
      }
    };
    const unrelated = whsec();
    report('key change between attempts', {
      'verifies with new secret': Number(verifies(newSecret)),
      'with old secret': Number(verifies(oldSecret)),
      'with an unrelated secret': Number(verifies(unrelated)),
    });
    expect([verifies(newSecret), verifies(oldSecret), verifies(unrelated)]).toEqual([true, true, false]);
    expect(header(retry, 'webhook-signature').split(' ')).toHaveLength(2);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });

  test('deleting the instance stops its pending retries: the notification is cancelled, nothing more is sent', async () => {
    const { insightly, sink, client } = stack;
    const { id } = await pollingInstance(sink.url);
    // Retry-After puts the next attempt a minute away, so the DELETE surely comes first, however slow
    // the machine (the 2 s schedule alone raced it on a busy one).
    sink.answerNext({ status: 503, headers: { 'retry-after': '60' } });
    const contact = insightly.create('Contacts', { N: 3 });
    const ofContact = (r: Received) => r.body.message.events.some((e) => e.objectId === String(contact.CONTACT_ID));
    await sink.waitFor(() => sink.received.filter(ofContact).length >= 1, 60_000, 'the first attempt');
    const eventId = sink.received.find(ofContact)!.body.message.eventId;
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);

    const delivery = client.workflow.getHandle(deliveryWorkflowId(eventId));
    const result = await delivery.result();
    const final = await delivery.query(getDeliveryQuery);
    await sleep(1000);
    report('retries after DELETE', { attempts: final.attempts.length, 'posts received': sink.received.filter(ofContact).length });
    expect(result.status).toBe('cancelled');
    expect(final.status).toBe('cancelled');
    expect(final.attempts).toHaveLength(1);
    expect(sink.received.filter(ofContact)).toHaveLength(1);
  });
});
