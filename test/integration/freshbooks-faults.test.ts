import {
  call,
  createInstance,
  FRESHBOOKS_CLIENT,
  freshbooksSeedBody,
  historyText,
  report,
  sleep,
  startStack,
  waitForVerified,
  type Stack,
  until as waitUntil,
} from './harness';
import { DEFAULT_BUSINESS, freshbooksSignature } from '../fakes/freshbooks';
import { WebhookBatcher } from '../../src/api/webhook-batcher';
import { instanceWorkflowId } from '../../src/workflows/ids';
import { decodedHistory, webhookBatches } from './history-payloads';

jest.setTimeout(240_000);

const CALLBACKS = 18;
// FreshBooks' own words for a refused grant (the fake answers it when a fault says 400 invalid_grant).
const INVALID_GRANT = { error: 'invalid_grant', error_description: 'The provided authorization grant is invalid, expired or revoked.' };

// The refusals here wait out the provider activities' own retries (about a minute) before anything shows.
const until = (check: () => Promise<boolean> | boolean, what: string, timeoutMs = 150_000) => waitUntil(check, what, timeoutMs);

function helpers(stack: () => Stack) {
  const callbacksFor = (id: number) =>
    stack()
      .freshbooks.callbacks()
      .filter((c) => c.uri.endsWith(`/events/freshbooksv2/${id}`));
  const status = async (id: number) => (await call(stack(), 'GET', `/instances/${id}`)).body.status;
  async function verifiedInstance() {
    const s = stack();
    const created = await createInstance(s, freshbooksSeedBody({ code: s.freshbooks.issueCode(), callbackUrl: s.sink.url }));
    await until(() => callbacksFor(created.id).filter((c) => c.verified).length === CALLBACKS, 'verified callbacks at FreshBooks', 60_000);
    await waitForVerified(s, created.id, CALLBACKS);
    return created;
  }
  /** A signed notification posted to this instance's callback for `event` only, as FreshBooks signs it. */
  async function webhookTo(id: number, event: string, objectId: string): Promise<number> {
    const target = callbacksFor(id).find((c) => c.event === event && c.verified)!;
    const fields: [string, string][] = [
      ['name', event],
      ['object_id', objectId],
      ['account_id', DEFAULT_BUSINESS.account_id],
      ['business_id', String(DEFAULT_BUSINESS.id)],
    ];
    const res = await fetch(target.uri, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-freshbooks-hmac-sha256': freshbooksSignature(fields, target.verifier),
      },
      body: new URLSearchParams(fields).toString(),
    });
    await res.arrayBuffer();
    return res.status;
  }
  return { callbacksFor, status, verifiedInstance, webhookTo };
}

/**
 * The three refusals run side by side, each on a route of its own (register, remove, token), because
 * each takes a minute: the provider activities retry six times (2+4+8+16+32 s) before the instance
 * records the failure. beforeAll starts them; each test awaits its own.
 */
describe('FreshBooks refuses: the instance records it, stays up, and the retry completes the work', () => {
  let stack: Stack;
  const h = helpers(() => stack);
  let registration: Promise<{ lastError: string; refused: number; registered: number; verified: number; atFreshBooks: number }>;
  let removal: Promise<{ lastError: string; refused: number; registered: number; atFreshBooks: number; patched: number }>;
  let refresh: Promise<{
    lastError: string;
    refused: number;
    runIds: number;
    status: string;
    secretSeen: boolean;
    reuses: number;
    refreshed: number;
  }>;

  beforeAll(async () => {
    // The instance asks again 2 s after a refusal instead of a minute.
    stack = await startStack({ env: { PROVIDER_RETRY_SECONDS: '2' } });
    const { freshbooks } = stack;

    // Made before any fault: one to turn off (removal), one with ten-second tokens (refresh).
    const toTurnOff = await h.verifiedInstance();
    freshbooks.accessTokenLifetimeSeconds = 10;
    const shortTokens = await h.verifiedInstance();
    freshbooks.accessTokenLifetimeSeconds = 43_200;
    // The instance whose registrations are refused exchanges its code before the token route fails.
    freshbooks.fail('register', { status: 503, times: Infinity });
    const refusedRegistrations = await createInstance(
      stack,
      freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: stack.sink.url }),
    );
    freshbooks.fail('token', { status: 400, body: INVALID_GRANT, times: Infinity });
    freshbooks.fail('remove', { status: 503, times: Infinity });

    const hits = (route: string, status: number) => freshbooks.faultsHit.filter((f) => f.route === route && f.status === status).length;

    registration = (async () => {
      const created = refusedRegistrations;
      let lastError = '';
      await until(async () => !!(lastError = (await h.status(created.id)).lastError ?? ''), 'the registration refusal in lastError');
      const refused = hits('register', 503);
      const atFreshBooks = h.callbacksFor(created.id).length;
      freshbooks.clearFaults('register');
      await until(() => h.callbacksFor(created.id).filter((c) => c.verified).length === CALLBACKS, 'registered on the retry');
      await waitForVerified(stack, created.id, CALLBACKS);
      const { callbacks, lastError: afterRetry } = await h.status(created.id);
      expect(afterRetry).toBeUndefined(); // fixed, so no longer shown
      expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
      return { lastError, refused, registered: callbacks.registered, verified: callbacks.verified, atFreshBooks };
    })();

    removal = (async () => {
      const patching = call(stack, 'PATCH', `/instances/${toTurnOff.id}`, {
        json: { configuration: { 'event.notification.enabled': false } },
      });
      let lastError = '';
      await until(async () => !!(lastError = (await h.status(toTurnOff.id)).lastError ?? ''), 'the removal refusal in lastError');
      const refused = hits('remove', 503);
      const atFreshBooks = h.callbacksFor(toTurnOff.id).length;
      const patched = (await patching).status;
      freshbooks.clearFaults('remove');
      await until(() => h.callbacksFor(toTurnOff.id).length === 0, 'removed on the retry');
      await until(async () => (await h.status(toTurnOff.id)).callbacks.registered === 0, 'the instance to know');
      const { callbacks } = await h.status(toTurnOff.id);
      expect((await call(stack, 'DELETE', `/instances/${toTurnOff.id}`)).status).toBe(200);
      return { lastError, refused, registered: callbacks.registered, atFreshBooks, patched };
    })();

    refresh = (async () => {
      const handle = stack.client.workflow.getHandle(instanceWorkflowId(shortTokens.id));
      const firstRun = (await handle.describe()).runId;
      let lastError = '';
      await until(async () => /refresh/.test((lastError = (await h.status(shortTokens.id)).lastError ?? '')), 'the refused refresh');
      const refused = hits('token', 400);
      const described = await handle.describe();
      const body = JSON.stringify((await call(stack, 'GET', `/instances/${shortTokens.id}`)).body);
      const secretSeen =
        body.includes(FRESHBOOKS_CLIENT.clientSecret) ||
        (await historyText(stack, instanceWorkflowId(shortTokens.id))).includes(FRESHBOOKS_CLIENT.clientSecret);
      // The refusal consumed nothing: once FreshBooks accepts again, the same refresh token works.
      const refreshedBefore = freshbooks.refreshes;
      freshbooks.clearFaults('token');
      await until(() => freshbooks.refreshes > refreshedBefore, 'a refresh accepted after the fault');
      await until(
        async () => Date.parse((await h.status(shortTokens.id)).tokensExpireAt) > Date.now(),
        'the instance to hold a live token again',
      );
      const result = {
        lastError,
        refused,
        runIds: new Set([firstRun, described.runId]).size,
        status: described.status.name,
        secretSeen,
        reuses: freshbooks.refreshTokenReuses,
        refreshed: freshbooks.refreshes - refreshedBefore,
      };
      expect((await call(stack, 'DELETE', `/instances/${shortTokens.id}`)).status).toBe(200);
      return result;
    })();
    // Each test awaits its own; none is left unobserved if another fails first.
    for (const p of [registration, removal, refresh]) p.catch(() => undefined);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([registration, removal, refresh]);
    await stack?.stop();
  });

  test('a registration refused (503) is named in lastError; the retry registers and verifies every callback', async () => {
    const r = await registration;
    report('registration refused', {
      'refused (503)': r.refused,
      'callbacks at FreshBooks then': r.atFreshBooks,
      registered: r.registered,
      verified: r.verified,
    });
    expect(r.lastError).toMatch(
      /^registering [a-z_]+\.[a-z]+: FreshBooks refused to register [a-z_]+\.[a-z]+: fault injected on register: HTTP 503$/,
    );
    // The event named was refused on each of its six attempts before the instance recorded it.
    expect(r.refused).toBeGreaterThanOrEqual(6);
    expect(r.atFreshBooks).toBe(0);
    expect([r.registered, r.verified]).toEqual([CALLBACKS, CALLBACKS]);
  });

  test('a removal refused (503) when events go off is named in lastError; the retry removes every callback', async () => {
    const r = await removal;
    report('removal refused', {
      'refused (503)': r.refused,
      'callbacks at FreshBooks then': r.atFreshBooks,
      'registered after retry': r.registered,
    });
    expect(r.lastError).toMatch(/^removing [a-z_]+\.[a-z]+: FreshBooks refused to remove callback \d+: HTTP 503$/);
    // The callback named was refused six activity attempts of four requests (each call retried three times).
    expect(r.refused).toBeGreaterThanOrEqual(6 * 4);
    expect(r.atFreshBooks).toBe(CALLBACKS);
    expect(r.patched).toBe(200);
    expect(r.registered).toBe(0);
  });

  test('a refused token refresh (400 invalid_grant) is named in lastError, without secrets; the instance stays up and recovers', async () => {
    const r = await refresh;
    report('token refresh refused', {
      'refused (400)': r.refused,
      runs: r.runIds,
      'refresh-token reuses': r.reuses,
      'refreshes after the fault': r.refreshed,
    });
    expect(r.lastError).toBe(`refreshing tokens: FreshBooks refused the token refresh: ${INVALID_GRANT.error_description}`);
    expect(r.refused).toBeGreaterThanOrEqual(6);
    expect(r.status).toBe('RUNNING');
    expect(r.runIds).toBe(1);
    expect(r.secretSeen).toBe(false);
    expect(r.reuses).toBe(0);
    expect(r.refreshed).toBeGreaterThanOrEqual(1);
  });
});

describe('continue-as-new of a webhook instance', () => {
  let stack: Stack;
  const h = helpers(() => stack);
  beforeAll(async () => {
    // Registering 18 callbacks alone fills 60 events: the instance rolls over every few webhooks.
    stack = await startStack({ env: { INSTANCE_MAX_HISTORY_EVENTS: '60' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('webhooks before and after each rollover are delivered once; callbacks stay verified; a repeat across it is known', async () => {
    const { freshbooks, sink, client } = stack;
    const created = await h.verifiedInstance();
    const handle = client.workflow.getHandle(instanceWorkflowId(created.id));
    const runIds = new Set<string>([(await handle.describe()).runId]);
    const objects = Array.from({ length: 15 }, (_, i) => String(9100 + i));

    // The first webhook, then more until the run that received it has continued as new.
    expect(await freshbooks.sendWebhook('invoice.update', objects[0]!)).toEqual([200]);
    const first = freshbooks.deliveries[freshbooks.deliveries.length - 1]!;
    const runOfFirst = (await handle.describe()).runId;
    const statuses: number[] = [];
    for (const objectId of objects.slice(1)) {
      statuses.push(...(await freshbooks.sendWebhook('invoice.update', objectId)));
      runIds.add((await handle.describe()).runId);
    }
    await until(async () => (await handle.describe()).runId !== runOfFirst, 'a rollover after the first webhook');
    runIds.add((await handle.describe()).runId);
    // FreshBooks sends the first one again, byte for byte: a later run must still know it.
    const resent = await freshbooks.resend(first);

    const ours = () => sink.acceptedEvents().filter((e) => objects.includes(e.objectId));
    await sink.waitFor(() => ours().length >= objects.length, 60_000, 'every event');
    await until(async () => (await h.status(created.id)).webhooks.pending === 0, 'nothing pending');
    await sleep(2000); // a doubled event would have arrived by now
    const status = await h.status(created.id);
    const { executions } = await client.workflowService.listWorkflowExecutions({
      namespace: 'default',
      query: `WorkflowId = '${instanceWorkflowId(created.id)}' AND ExecutionStatus = 'ContinuedAsNew'`,
    });
    const perObject = objects.map((o) => ours().filter((e) => e.objectId === o).length);
    report('webhook instance across continue-as-new', {
      sent: objects.length + 1,
      'runs seen': runIds.size,
      'continued as new': executions.length,
      delivered: ours().length,
      'acknowledged as repeats': status.webhooks.repeats,
      'verified callbacks': status.callbacks.verified,
    });
    expect(statuses).toEqual(objects.slice(1).map(() => 200));
    expect(resent).toBe(200);
    expect(runIds.size).toBeGreaterThanOrEqual(2);
    expect(executions.length).toBeGreaterThanOrEqual(runIds.size - 1);
    expect(perObject).toEqual(objects.map(() => 1));
    // lastReceivedAt is state too: it crosses continue-as-new with the rest.
    expect(status.webhooks).toEqual({ received: objects.length, pending: 0, repeats: 1, lastReceivedAt: expect.any(String) });
    expect(status.callbacks).toEqual({ wanted: CALLBACKS, registered: CALLBACKS, verified: CALLBACKS });
    // Still signed by the verifiers the earlier runs confirmed: a webhook now is accepted and delivered.
    expect(await freshbooks.sendWebhook('client.create', 9199)).toEqual([200]);
    await sink.waitFor(() => sink.acceptedEvents().some((e) => e.objectId === '9199'), 30_000, 'a webhook after the rollovers');
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
    expect(h.callbacksFor(created.id)).toHaveLength(0);
  });
});

describe('webhook hand-off', () => {
  let stack: Stack;
  const h = helpers(() => stack);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('webhooks answered 200 just before DELETE are all delivered, and the callbacks are removed', async () => {
    const { freshbooks, sink } = stack;
    const created = await h.verifiedInstance();
    const objects = Array.from({ length: 40 }, (_, i) => String(9300 + i));
    const statuses = (await Promise.all(objects.map((o) => freshbooks.sendWebhook('expense.create', o)))).flat();
    const deleted = await call(stack, 'DELETE', `/instances/${created.id}`);
    const afterDelete = await freshbooks.sendWebhook('expense.create', 9399);
    // Only the 200s are promised (a busy machine may answer 503, which FreshBooks would send again).
    const accepted = objects.filter((_, i) => statuses[i] === 200);
    const ours = () => sink.acceptedEvents().filter((e) => objects.includes(e.objectId));
    await sink.waitFor(() => accepted.every((o) => ours().some((e) => e.objectId === o)), 60_000, 'every accepted webhook');
    await sleep(2000); // a doubled event would have arrived by now
    const deliveredAccepted = accepted.map((o) => ours().filter((e) => e.objectId === o).length);
    report('DELETE during hand-off', {
      sent: objects.length,
      'answered 200': accepted.length,
      'delivered of those': deliveredAccepted.filter((n) => n === 1).length,
      'callbacks after DELETE': h.callbacksFor(created.id).length,
    });
    expect(statuses).toHaveLength(objects.length);
    expect(accepted.length).toBeGreaterThan(0);
    expect(deleted.status).toBe(200);
    expect(deliveredAccepted).toEqual(accepted.map(() => 1));
    expect(h.callbacksFor(created.id)).toHaveLength(0);
    // The callbacks are gone at FreshBooks, so it has nowhere to send one.
    expect(afterDelete).toEqual([]);
  });

  test('WebhookBatcher on the real Temporal: webhooks arrive in order, in few batches (updates, or signals when an update is not answered); one past its deadline is never sent', async () => {
    const created = await h.verifiedInstance();
    const workflowId = instanceWorkflowId(created.id);
    const batcher = new WebhookBatcher(stack.client, { maxBatch: 25, lingerMs: 2, deadlineMs: 5_000 });
    const fields = (i: number) => ({ name: 'item.create', object_id: String(9500 + i) });
    const order: string[] = [];
    const adds: Promise<unknown>[] = [];
    const add = (key: string, i: number) => {
      order.push(key);
      adds.push(batcher.add(workflowId, key, fields(i)));
    };
    // 60 at once (more than a batch), one whose deadline passed while queued, then 20 more a moment later.
    for (let i = 0; i < 60; i++) add(`batch-${i}`, i);
    const expired = batcher.add(workflowId, 'batch-expired', fields(99), Date.now() - 1);
    await new Promise((r) => setImmediate(r));
    for (let i = 60; i < 80; i++) add(`batch-${i}`, i);
    const outcomes = await Promise.allSettled(adds);
    const expiredOutcome = await expired.then(
      () => 'sent',
      (err: Error) => err.message,
    );

    // A signal that came during a workflow task is durable at once but joins the history after that task.
    await until(async () => (await h.status(created.id)).webhooks.received === order.length, 'the instance to count them');
    const batches = webhookBatches(await decodedHistory(stack.client, workflowId));
    const keys = batches.flatMap((b) => b.keys);
    report('WebhookBatcher', {
      added: order.length + 1,
      'resolved (sent)': outcomes.filter((o) => o.status === 'fulfilled').length,
      batches: batches.length,
      'as updates': batches.filter((b) => b.via === 'update').length,
      'batcher updates': batcher.counts.updates,
      'batcher signals': batcher.counts.signals,
      'in history': keys.length,
      'past deadline, sent': keys.filter((k) => k === 'batch-expired').length,
    });
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(keys).toEqual(order);
    // 80 in batches of at most 25: four at least, and far fewer than one each.
    expect(batches.length).toBeGreaterThanOrEqual(4);
    expect(batches.length).toBeLessThan(order.length / 10);
    expect(Math.max(...batches.map((b) => b.keys.length))).toBeLessThanOrEqual(25);
    // Each batch went once, by the way the batcher says it did.
    expect(batches.filter((b) => b.via === 'update').length).toBe(batcher.counts.updates);
    expect(batches.filter((b) => b.via === 'signal').length).toBe(batcher.counts.signals);
    expect(expiredOutcome).toBe('the webhook could not be recorded within its deadline');
    await batcher.settled();
    expect((await h.status(created.id)).webhooks.received).toBe(order.length);
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });

  test('WebhookBatcher: a batch whose update is not answered in time goes as a signal, and a late copy of it makes nothing', async () => {
    const created = await h.verifiedInstance();
    const workflowId = instanceWorkflowId(created.id);
    // A budget of 1 ms: every update gives up at once, though the server may still hand it to the instance.
    const batcher = new WebhookBatcher(stack.client, { maxBatch: 5, lingerMs: 2, deadlineMs: 5_000, updateBudgetMs: 1 });
    const keys = Array.from({ length: 12 }, (_, i) => `late-${i}`);
    await Promise.all(keys.map((key, i) => batcher.add(workflowId, key, { name: 'item.create', object_id: String(9700 + i) })));
    await until(async () => (await h.status(created.id)).webhooks.received === keys.length, 'the instance to count them');
    // Updates still admitted when they gave up reach the instance later, or are refused once stale.
    await new Promise((r) => setTimeout(r, 1_500));
    const batches = webhookBatches(await decodedHistory(stack.client, workflowId));
    const signalled = batches.filter((b) => b.via === 'signal').flatMap((b) => b.keys);
    const updated = batches.filter((b) => b.via === 'update').flatMap((b) => b.keys);
    const status = await h.status(created.id);
    report('WebhookBatcher fallback', {
      sent: keys.length,
      'batcher updates': batcher.counts.updates,
      'batcher signals': batcher.counts.signals,
      'signalled keys': signalled.length,
      'late update copies in history': updated.length,
      received: status.webhooks.received,
    });
    expect(batcher.counts.signals).toBeGreaterThan(0);
    // Every webhook went by signal unless its update was answered; each is one event however many copies came.
    expect(new Set([...signalled, ...updated])).toEqual(new Set(keys));
    expect(status.webhooks.received).toBe(keys.length);
    await batcher.settled();
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });

  test('posts to unknown instances beyond the read budget get 503 + Retry-After and cost Temporal nothing; known instances are served', async () => {
    const created = await h.verifiedInstance();
    const uri = h.callbacksFor(created.id)[0]!.uri;
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'x-freshbooks-hmac-sha256': Buffer.alloc(32, 3).toString('base64'),
    };
    const describes = () => stack.temporalCalls.filter((m) => m.endsWith('/DescribeWorkflowExecution')).length;
    const describesBefore = describes();
    const answers: { status: number; retryAfter: string | null }[] = [];
    let next = 900_000_000;
    // Waves of 100 made-up ids (the server takes at most 256 connections from one address).
    for (let wave = 0; wave < 10 && !answers.some((a) => a.status === 503); wave++) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 100 }, async () => {
            const res = await fetch(uri.replace(/\/\d+$/, `/${next++}`), {
              method: 'POST',
              headers,
              body: 'name=invoice.update&object_id=1',
            });
            await res.arrayBuffer();
            return { status: res.status, retryAfter: res.headers.get('retry-after') };
          }),
        )),
      );
    }
    const reads = describes() - describesBefore;
    // The budget is spent: a signed webhook for a running instance the receiver knows still goes through.
    const known = await h.webhookTo(created.id, 'invoice.create', '9601');
    const busy = answers.filter((a) => a.status === 503);
    const notFound = answers.filter((a) => a.status === 404);
    report('receiver busy', { posts: answers.length, '404': notFound.length, '503': busy.length, 'Temporal reads': reads });
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.every((a) => a.retryAfter === '1')).toBe(true);
    expect(notFound.length + busy.length).toBe(answers.length);
    // One read for each id answered 404, none for a 503.
    expect(reads).toBe(notFound.length);
    expect(known).toBe(200);
    await until(async () => (await h.status(created.id)).webhooks.received === 1, 'the known webhook recorded');
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });
});
