import { createHmac } from 'node:crypto';
import {
  call,
  repeatsAreIdentical,
  createInstance,
  freshbooksSeedBody,
  historyText,
  instanceWorkflowCount,
  sleep,
  startStack,
  waitForVerified,
  type Stack,
} from './harness';
import { DEFAULT_BUSINESS } from '../fakes/freshbooks';
import { instanceWorkflowId } from '../../src/workflows/ids';

jest.setTimeout(120_000);

describe('FreshBooks webhooks, end to end on a real Temporal', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const DEFAULT_EVENTS = ['client', 'invoice', 'estimate', 'expense', 'payment', 'item'].flatMap((o) =>
    ['create', 'update', 'delete'].map((a) => `${o}.${a}`),
  );
  const callbacksFor = (id: number) => stack.freshbooks.callbacks().filter((c) => c.uri.endsWith(`/events/freshbooksv2/${id}`));

  async function verifiedInstance(body = freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl: stack.sink.url })) {
    const created = await createInstance(stack, body);
    await stack.sink.waitFor(
      () => callbacksFor(created.id).filter((c) => c.verified).length === DEFAULT_EVENTS.length,
      30_000,
      'verified callbacks',
    );
    await waitForVerified(stack, created.id, DEFAULT_EVENTS.length);
    return created;
  }

  test('the seed body creates an instance whose callbacks are registered and verified at FreshBooks', async () => {
    const created = await verifiedInstance();
    expect(created).toMatchObject({ name: 'API Instance', element: { key: 'freshbooksv2' }, eventsEnabled: true });
    expect(created.configuration['oauth.api.secret']).toBe('********');
    expect(JSON.stringify(created)).not.toContain('fb-client-secret');
    expect(
      callbacksFor(created.id)
        .map((c) => c.event)
        .sort(),
    ).toEqual([...DEFAULT_EVENTS].sort());
    const view = await call(stack, 'GET', `/instances/${created.id}`);
    expect(view.body.status.callbacks).toEqual({ wanted: 18, registered: 18, verified: 18 });
    expect(JSON.stringify(view.body)).not.toMatch(/accessToken|refreshToken|verifier/);

    // Secrets are sealed in Temporal: not in the instance's history (nor the UI), though it holds them.
    const history = await historyText(stack, `instance-${created.id}`);
    expect(history).toContain('sealed:v2:');
    expect(history).toContain('MyBiz');
    expect(history).not.toContain('fb-client-secret');
    for (const c of callbacksFor(created.id)) expect(history).not.toContain(c.verifier);
    expect(history).not.toMatch(/"(accessToken|refreshToken)":"(?!sealed)/);
    await call(stack, 'DELETE', `/instances/${created.id}`);
  });

  test('webhooks arrive as CREATED, UPDATED and DELETED notifications with ids, raw and signatures', async () => {
    const { freshbooks, sink } = stack;
    const created = await verifiedInstance(freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url, signatureKey: 'k' }));
    expect(await freshbooks.sendWebhook('invoice.create', 1001)).toEqual([200]);
    expect(await freshbooks.sendWebhook('client.update', 2002)).toEqual([200]);
    expect(await freshbooks.sendWebhook('payment.delete', 3003)).toEqual([200]);
    const ours = () => sink.accepted().filter((r) => r.body.message.instanceId === created.id);
    await sink.waitFor(() => ours().flatMap((r) => r.body.message.events).length >= 3, 20_000, 'three events');
    await sleep(500);
    const events = ours().flatMap((r) => r.body.message.events);
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ objectType: 'invoices', eventType: 'CREATED', objectId: '1001', elementKey: 'freshbooksv2' }),
        expect.objectContaining({ objectType: 'clients', eventType: 'UPDATED', objectId: '2002' }),
        expect.objectContaining({ objectType: 'payments', eventType: 'DELETED', objectId: '3003' }),
      ]),
    );
    expect(events).toHaveLength(3);
    const invoice = ours().find((r) => r.body.message.events.some((e) => e.objectId === '1001'))!;
    expect(invoice.body.message.raw).toMatchObject({ name: 'invoice.create', object_id: '1001', account_id: '6BApk' });
    expect(invoice.headers['elements-webhook-id']).toBe(invoice.body.message.eventId);
    // The signature recomputed independently over the exact bytes received, with the key given ('k').
    expect(invoice.headers['elements-webhook-signature']).toBe(
      `sha256=${createHmac('sha256', 'k').update(invoice.rawBody).digest('base64')}`,
    );
    await call(stack, 'DELETE', `/instances/${created.id}`);
  });

  test('an action with no standard meaning is UNKNOWN', async () => {
    const { freshbooks, sink } = stack;
    const created = await verifiedInstance(freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url }));
    // Point a webhook for invoice.sendByEmail at the invoice.create callback, signed with its verifier.
    const target = callbacksFor(created.id).find((c) => c.event === 'invoice.create')!;
    const { freshbooksSignature } = await import('../fakes/freshbooks');
    const fields: [string, string][] = [
      ['name', 'invoice.sendByEmail'],
      ['object_id', '4004'],
      ['account_id', '6BApk'],
    ];
    const res = await fetch(target.uri, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-freshbooks-hmac-sha256': freshbooksSignature(fields, target.verifier),
      },
      body: new URLSearchParams(fields).toString(),
    });
    expect(res.status).toBe(200);
    const ours = () => sink.acceptedEvents().filter((e) => e.objectId === '4004');
    await sink.waitFor(() => ours().length >= 1, 20_000, 'the UNKNOWN event');
    expect(ours()[0]).toMatchObject({ objectType: 'invoices', eventType: 'UNKNOWN' });
    await call(stack, 'DELETE', `/instances/${created.id}`);
  });

  test('a wrong, missing or tampered signature and a non-form body are refused and produce nothing', async () => {
    const { freshbooks, sink } = stack;
    const created = await verifiedInstance();
    const before = sink.received.length;
    expect(await freshbooks.sendWebhook('invoice.update', 5005, {}, { signature: 'wrong' })).toEqual([401]);
    expect(await freshbooks.sendWebhook('invoice.update', 5006, {}, { signature: 'missing' })).toEqual([401]);
    expect(await freshbooks.sendWebhook('invoice.update', 5007, {}, { tamper: true })).toEqual([401]);
    expect(await freshbooks.sendWebhook('invoice.update', 5008, {}, { contentType: 'application/json' })).toEqual([400]);
    const json = await fetch(callbacksFor(created.id)[0]!.uri, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'invoice.update', object_id: '5009' }),
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { message: string }).message).toMatch(/x-www-form-urlencoded/);
    // Unsigned, it is refused before the instance is looked up; signed (well-formed), it is unknown.
    const unknownUri = callbacksFor(created.id)[0]!.uri.replace(/\/\d+$/, '/999');
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const body = 'name=invoice.update&object_id=1';
    expect((await fetch(unknownUri, { method: 'POST', headers: form, body })).status).toBe(401);
    const signed = { ...form, 'x-freshbooks-hmac-sha256': Buffer.alloc(32, 1).toString('base64') };
    expect((await fetch(unknownUri, { method: 'POST', headers: signed, body })).status).toBe(404);
    await sleep(2000);
    expect(sink.received.length).toBe(before);
    const view = await call(stack, 'GET', `/instances/${created.id}`);
    expect(view.body.status.webhooks.received).toBe(0);
    await call(stack, 'DELETE', `/instances/${created.id}`);
  });

  test('100 webhooks sent concurrently: 100 events delivered, none twice', async () => {
    const { freshbooks, sink } = stack;
    const created = await verifiedInstance();
    const sentBefore = freshbooks.deliveries.length;
    const statuses = (await Promise.all(Array.from({ length: 100 }, (_, i) => freshbooks.sendWebhook('item.update', 7000 + i)))).flat();
    // A busy machine may answer some 503 (not recorded in time): FreshBooks sends those again, and a
    // retry of one that did land is a repeat, not a second event.
    let retried = 0;
    for (const unanswered of freshbooks.deliveries.slice(sentBefore).filter((d) => d.status !== 200)) {
      for (let tries = 0; (await freshbooks.resend(unanswered)) !== 200; tries++) {
        expect(tries).toBeLessThan(5);
        await sleep(1000);
      }
      retried++;
    }
    expect(statuses).toHaveLength(100);
    expect(statuses.filter((s) => s !== 200)).toHaveLength(retried);
    const ours = () => sink.accepted().filter((r) => r.body.message.instanceId === created.id);
    await sink.waitFor(() => ours().flatMap((r) => r.body.message.events).length >= 100, 30_000, '100 events');
    await sleep(2000);
    const byObject = new Map<string, Set<string>>();
    for (const r of ours())
      for (const e of r.body.message.events) {
        byObject.set(e.objectId, (byObject.get(e.objectId) ?? new Set()).add(r.body.message.eventId));
      }
    expect(byObject.size).toBe(100);
    expect([...byObject.values()].every((ids) => ids.size === 1)).toBe(true);
    const redelivered = repeatsAreIdentical(ours());
    console.log(
      `100 concurrent webhooks: delivered ${byObject.size}, retried by the sender ${retried}, notifications ${ours().length}, redelivered with the same eventId ${redelivered}`,
    );
    expect(Math.max(...ours().map((r) => r.body.message.events.length))).toBeLessThanOrEqual(20);
    // 100 events, at most 20 a notification; anything beyond the distinct notifications is a repeat.
    const distinct = new Set(ours().map((r) => r.body.message.eventId)).size;
    expect(distinct).toBeGreaterThanOrEqual(5);
    expect(ours().length).toBe(distinct + redelivered);
    await call(stack, 'DELETE', `/instances/${created.id}`);
  });

  test('a refused code and an unknown business name are clear errors and leave nothing behind', async () => {
    const { freshbooks, sink } = stack;
    const workflows = await instanceWorkflowCount(stack);
    const callbacks = freshbooks.callbacks().length;
    const refused = await call(stack, 'POST', '/instances', { json: freshbooksSeedBody({ code: 'not-a-code', callbackUrl: sink.url }) });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/FreshBooks refused the authorization code: .*invalid/);
    const used = freshbooks.issueCode();
    await createInstance(stack, freshbooksSeedBody({ code: used, callbackUrl: sink.url })).then((i) =>
      call(stack, 'DELETE', `/instances/${i.id}`),
    );
    const reused = await call(stack, 'POST', '/instances', { json: freshbooksSeedBody({ code: used, callbackUrl: sink.url }) });
    expect(reused.status).toBe(400);
    const noBiz = await call(stack, 'POST', '/instances', {
      json: freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url, businessName: 'NoSuchBiz' }),
    });
    expect(noBiz.status).toBe(400);
    expect(noBiz.body.message).toMatch(/No FreshBooks business named "NoSuchBiz".*"MyBiz"/);
    const noCode = await call(stack, 'POST', '/instances', {
      json: { ...freshbooksSeedBody({ code: 'x', callbackUrl: sink.url }), providerData: {} },
    });
    expect(noCode.status).toBe(400);
    expect(noCode.body.message).toMatch(/providerData.code/);
    for (const r of [refused, reused, noBiz, noCode]) expect(JSON.stringify(r.body)).not.toContain('fb-client-secret');
    await sleep(1000);
    expect(await instanceWorkflowCount(stack)).toBe(workflows + 1); // only the one created and deleted above
    expect(freshbooks.callbacks().length).toBe(callbacks);
  });

  test('a registration FreshBooks accepted but whose answer was lost is retried without a second callback', async () => {
    const { freshbooks } = stack;
    freshbooks.loseRegistrationAnswers = 2;
    const created = await verifiedInstance();
    const events = callbacksFor(created.id).map((c) => c.event);
    console.log(`lost registration answers: 2; callbacks at FreshBooks ${events.length}, distinct events ${new Set(events).size}`);
    expect(freshbooks.loseRegistrationAnswers).toBe(0); // both faults were hit
    expect(events.sort()).toEqual([...DEFAULT_EVENTS].sort());
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
    expect(callbacksFor(created.id)).toHaveLength(0);
  });

  test('callbacks at our uri the instance does not know are removed when events go off and on DELETE', async () => {
    const { freshbooks } = stack;
    const created = await verifiedInstance();
    const uri = callbacksFor(created.id)[0]!.uri;
    const account = DEFAULT_BUSINESS.account_id;
    freshbooks.addStrayCallback(account, 'invoice.create', uri);
    freshbooks.addStrayCallback(account, 'project.create', uri);
    const before = callbacksFor(created.id).length;
    const off = await call(stack, 'PATCH', `/instances/${created.id}`, {
      json: { configuration: { 'event.notification.enabled': false } },
    });
    expect(off.status).toBe(200);
    const afterOff = callbacksFor(created.id).length;

    const on = await call(stack, 'PATCH', `/instances/${created.id}`, { json: { configuration: { 'event.notification.enabled': true } } });
    expect(on.status).toBe(200);
    await stack.sink.waitFor(() => callbacksFor(created.id).filter((c) => c.verified).length === 18, 30_000, 'callbacks back');
    freshbooks.addStrayCallback(account, 'item.update', uri);
    const beforeDelete = callbacksFor(created.id).length;
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
    const afterDelete = callbacksFor(created.id).length;
    process.stdout.write(
      `stray callbacks: before off ${before}, after off ${afterOff}, before DELETE ${beforeDelete}, after DELETE ${afterDelete}\n`,
    );
    expect([before, afterOff, beforeDelete, afterDelete]).toEqual([20, 0, 19, 0]);
  });

  test('DELETE of an instance whose workflow was terminated removes its callbacks at FreshBooks', async () => {
    const created = await verifiedInstance();
    await stack.client.workflow.getHandle(instanceWorkflowId(created.id)).terminate('an operator ended it');
    expect((await call(stack, 'GET', `/instances/${created.id}`)).status).toBe(404);
    const before = callbacksFor(created.id).length;
    const deleted = await call(stack, 'DELETE', `/instances/${created.id}`);
    const after = callbacksFor(created.id).length;
    const again = await call(stack, 'DELETE', `/instances/${created.id}`);
    process.stdout.write(`terminated instance deleted: callbacks before ${before}, after ${after}; second DELETE ${again.status}\n`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ id: created.id, deleted: true });
    expect([before, after]).toEqual([18, 0]);
    expect(again.status).toBe(404);
  });

  test('events off, then on, then DELETE: callbacks removed, registered again, removed at FreshBooks', async () => {
    const { freshbooks, sink } = stack;
    const created = await verifiedInstance();
    const off = await call(stack, 'PATCH', `/instances/${created.id}`, {
      json: { configuration: { 'event.notification.enabled': false } },
    });
    expect(off.status).toBe(200);
    expect(off.body.eventsEnabled).toBe(false);
    expect(off.body.status.callbacks).toMatchObject({ wanted: 0, registered: 0 });
    expect(callbacksFor(created.id)).toHaveLength(0);

    const on = await call(stack, 'PATCH', `/instances/${created.id}`, {
      json: { configuration: { 'event.notification.enabled': 'true' } },
    });
    expect(on.status).toBe(200);
    expect(on.body.eventsEnabled).toBe(true);
    await sink.waitFor(() => callbacksFor(created.id).filter((c) => c.verified).length === 18, 30_000, 'callbacks back and verified');
    await waitForVerified(stack, created.id, 18);
    expect(await freshbooks.sendWebhook('estimate.create', 8008)).toEqual([200]);
    await sink.waitFor(() => sink.acceptedEvents().some((e) => e.objectId === '8008'), 20_000, 'an event after re-enabling');

    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
    expect(callbacksFor(created.id)).toHaveLength(0);
    expect((await call(stack, 'GET', `/instances/${created.id}`)).status).toBe(404);
  });
});

describe('FreshBooks tokens', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Six-second access tokens: the instance refreshes about every five seconds.
    stack = await startStack({ freshbooksTokenLifetimeSeconds: 6 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('the instance keeps working across three token refreshes, never reusing a refresh token', async () => {
    const { freshbooks, sink } = stack;
    const created = await createInstance(stack, freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url }));
    const cbs = () => freshbooks.callbacks().filter((c) => c.uri.endsWith(`/${created.id}`));
    await sink.waitFor(() => cbs().filter((c) => c.verified).length === 18, 30_000, 'verified callbacks');
    await sink.waitFor(() => freshbooks.refreshes >= 3, 40_000, 'three refreshes');
    expect(freshbooks.refreshTokenReuses).toBe(0);
    // Calls with the newest token still work: turning events off removes the callbacks at FreshBooks.
    const off = await call(stack, 'PATCH', `/instances/${created.id}`, {
      json: { configuration: { 'event.notification.enabled': false } },
    });
    expect(off.status).toBe(200);
    expect(cbs()).toHaveLength(0);
    expect(freshbooks.requests.filter((r) => r.status === 401)).toHaveLength(0);
    const view = await call(stack, 'GET', `/instances/${created.id}`);
    expect(Date.parse(view.body.status.tokensExpireAt)).toBeGreaterThan(Date.now() - 1000);
    expect(view.body.status.lastError).toBeUndefined();
    await call(stack, 'DELETE', `/instances/${created.id}`);
  });
});
