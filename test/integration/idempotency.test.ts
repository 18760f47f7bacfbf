import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { apiServer } from '../../src/api/main';
import { logger } from '../../src/logger';
import { loadSealer } from '../../src/secrets/sealer';
import {
  call,
  freshbooksSeedBody,
  historyText,
  insightlySeedBody,
  instanceWorkflowCount,
  OTHER_ACCOUNT_AUTH,
  PLATFORM_AUTH,
  sleep,
  startStack,
  type ApiResponse,
  type Stack,
} from './harness';

jest.setTimeout(120_000);

// A short delivery schedule so a notification fails for good within the test: 3 attempts.
const FAST_SCHEDULE = { DELIVERY_FIRST_RETRY_SECONDS: '0.2', DELIVERY_MAX_ATTEMPTS: '3' };

/** A call with an Idempotency-Key (the harness's `call` sends none). */
async function keyedCall(
  api: string,
  method: string,
  route: string,
  key: string,
  json?: unknown,
  auth = PLATFORM_AUTH,
  // Bodies are JSON the tests pick apart freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<ApiResponse<any>> {
  const headers: Record<string, string> = { authorization: auth, 'idempotency-key': key };
  if (json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${api}${route}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** Waits until visibility lists at least `atLeast` instance workflows, then answers the count. */
async function settledCount(stack: Stack, atLeast: number): Promise<number> {
  for (let i = 0; i < 100 && (await instanceWorkflowCount(stack)) < atLeast; i++) await sleep(100);
  return instanceWorkflowCount(stack);
}

const line = (text: string) => process.stdout.write(`${text}\n`);

describe('Idempotency-Key on POST /instances and on redelivery', () => {
  let stack: Stack;
  let keyN = 0;
  const newKey = () => `key-${Date.now()}-${++keyN}`;
  beforeAll(async () => {
    stack = await startStack({ env: FAST_SCHEDULE });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const insightlyBody = () => insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: 15 });

  test('a create retried with its key answers the first instance and token; one workflow, one provider check', async () => {
    const key = newKey();
    const before = await instanceWorkflowCount(stack);
    const checksBefore = stack.insightly.calls.length;
    const first = await keyedCall(stack.api, 'POST', '/instances', key, insightlyBody());
    expect(first.status).toBe(200);
    const checksAfterFirst = stack.insightly.calls.length;
    // The same body with its keys in another order is the same request.
    const reordered = Object.fromEntries(Object.entries(insightlyBody()).reverse());
    const second = await keyedCall(stack.api, 'POST', '/instances', key, reordered);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    const workflows = (await settledCount(stack, before + 1)) - before;
    const providerChecks = stack.insightly.calls.length - checksBefore;
    line(
      `idempotent create: workflows=${workflows} providerChecks=${providerChecks} sameIdAndToken=${second.body.id === first.body.id && second.body.token === first.body.token}`,
    );
    expect(workflows).toBe(1);
    expect(providerChecks).toBe(checksAfterFirst - checksBefore);
    expect(providerChecks).toBe(1);

    // The token in the memo is sealed: the workflow's history never holds it in clear.
    const history = await historyText(stack, `instance-${first.body.id}`);
    expect(history).not.toContain(first.body.token);
    expect(history).toMatch(/"requestHash":"[0-9a-f]{64}","token":"sealed:v2:/);

    // Another body under that key: 409, nothing started.
    const other = await keyedCall(stack.api, 'POST', '/instances', key, { ...insightlyBody(), name: 'Another' });
    expect(other.status).toBe(409);
    expect(other.body.message).toMatch(/Idempotency-Key was already used with another request body/);
    // Another account with the same key gets an instance of its own.
    const theirs = await keyedCall(stack.api, 'POST', '/instances', key, insightlyBody(), OTHER_ACCOUNT_AUTH);
    expect(theirs.status).toBe(200);
    expect(theirs.body.id).not.toBe(first.body.id);
    const total = (await settledCount(stack, before + 2)) - before;
    line(`idempotent create, other body and other account: workflows=${total} otherBodyStatus=${other.status}`);
    expect(total).toBe(2);

    // Deleted: the key does not create it again.
    expect((await call(stack, 'DELETE', `/instances/${first.body.id}`)).status).toBe(200);
    const afterDelete = await keyedCall(stack.api, 'POST', '/instances', key, insightlyBody());
    expect(afterDelete.status).toBe(409);
    expect(afterDelete.body.message).toMatch(/was deleted/);
    await call(stack, 'DELETE', `/instances/${theirs.body.id}`, { auth: OTHER_ACCOUNT_AUTH });
  });

  test('five concurrent creates with one key get one instance', async () => {
    const key = newKey();
    const before = await instanceWorkflowCount(stack);
    const checksBefore = stack.insightly.calls.length;
    const answers = await Promise.all([...Array(5)].map(() => keyedCall(stack.api, 'POST', '/instances', key, insightlyBody())));
    const statuses = answers.map((a) => a.status);
    const ids = new Set(answers.map((a) => a.body.id));
    const tokens = new Set(answers.map((a) => a.body.token));
    const workflows = (await settledCount(stack, before + 1)) - before;
    const providerChecks = stack.insightly.calls.length - checksBefore;
    line(
      `concurrent creates: ok=${statuses.filter((s) => s === 200).length} ids=${ids.size} tokens=${tokens.size} workflows=${workflows} providerChecks=${providerChecks}`,
    );
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(ids.size).toBe(1);
    expect(tokens.size).toBe(1);
    expect(workflows).toBe(1);
    expect(providerChecks).toBe(1);
    await call(stack, 'DELETE', `/instances/${[...ids][0]}`);
  });

  test('concurrent creates on two API replicas: the loser at workflow start answers from the winner', async () => {
    // A second API process on the same Temporal: nothing is shared between the two but Temporal.
    const replica: Server = apiServer({
      client: stack.client,
      config: stack.config,
      log: logger,
      sealer: loadSealer({ secretsKey: stack.config.SECRETS_KEY, dataDir: '.' }),
      callbackPolicy: { publicOnly: false },
    });
    await new Promise<void>((resolve) => replica.listen(0, '127.0.0.1', () => resolve()));
    const replicaApi = `http://127.0.0.1:${(replica.address() as AddressInfo).port}/elements/api-v2`;
    try {
      const key = newKey();
      const before = await instanceWorkflowCount(stack);
      const answers = await Promise.all(
        [stack.api, replicaApi, stack.api, replicaApi].map((api) => keyedCall(api, 'POST', '/instances', key, insightlyBody())),
      );
      const ids = new Set(answers.map((a) => a.body.id));
      const tokens = new Set(answers.map((a) => a.body.token));
      const workflows = (await settledCount(stack, before + 1)) - before;
      line(
        `two replicas: ok=${answers.filter((a) => a.status === 200).length} ids=${ids.size} tokens=${tokens.size} workflows=${workflows}`,
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      expect(ids.size).toBe(1);
      expect(tokens.size).toBe(1);
      expect(workflows).toBe(1);
      await call(stack, 'DELETE', `/instances/${[...ids][0]}`);
    } finally {
      await new Promise<void>((resolve) => {
        replica.close(() => resolve());
        replica.closeAllConnections();
      });
    }
  });

  test('a FreshBooks create retried with its key does not exchange the code again', async () => {
    const exchanges = () => stack.freshbooks.tokenRequests.filter((r) => r.grant_type === 'authorization_code').length;
    const before = await instanceWorkflowCount(stack);
    const exchangesBefore = exchanges();
    const key = newKey();
    const body = freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl: stack.sink.url });
    const first = await keyedCall(stack.api, 'POST', '/instances', key, body);
    expect(first.status).toBe(200);
    const retried = await keyedCall(stack.api, 'POST', '/instances', key, body);
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual(first.body);
    // Five at once with a new code: one exchange, one instance.
    const key2 = newKey();
    const body2 = freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl: stack.sink.url });
    const together = await Promise.all([...Array(5)].map(() => keyedCall(stack.api, 'POST', '/instances', key2, body2)));
    expect(together.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(together.map((a) => `${a.body.id}/${a.body.token}`)).size).toBe(1);
    const codeExchanges = exchanges() - exchangesBefore;
    const workflows = (await settledCount(stack, before + 2)) - before;
    line(`freshbooks keyed creates: requests=7 codeExchanges=${codeExchanges} workflows=${workflows}`);
    expect(codeExchanges).toBe(2);
    expect(workflows).toBe(2);
    // Without the key, the used code is refused, as before.
    const unkeyed = await call(stack, 'POST', '/instances', { json: body });
    expect(unkeyed.status).toBe(400);
    await call(stack, 'DELETE', `/instances/${first.body.id}`);
    await call(stack, 'DELETE', `/instances/${together[0]!.body.id}`);
  });

  test('a malformed key is a 400 naming the header and starts nothing', async () => {
    const before = await instanceWorkflowCount(stack);
    const checksBefore = stack.insightly.calls.length;
    const bad = ['', 'x'.repeat(256), 'tab\there', 'caf\u00e9'];
    const statuses: number[] = [];
    for (const key of bad) {
      const res = await keyedCall(stack.api, 'POST', '/instances', key, insightlyBody());
      statuses.push(res.status);
      expect(res.body.message).toMatch(/Idempotency-Key/);
    }
    // The longest key allowed is accepted.
    const longest = await keyedCall(stack.api, 'POST', '/instances', `${newKey()}-`.padEnd(255, 'k'), insightlyBody());
    expect(longest.status).toBe(200);
    const workflows = (await settledCount(stack, before + 1)) - before;
    line(
      `bad keys: refused=${statuses.filter((s) => s === 400).length}/${bad.length} workflows=${workflows} providerChecks=${stack.insightly.calls.length - checksBefore}`,
    );
    expect(statuses).toEqual([400, 400, 400, 400]);
    expect(workflows).toBe(1);
    expect(stack.insightly.calls.length - checksBefore).toBe(1);
    await call(stack, 'DELETE', `/instances/${longest.body.id}`);
  });

  test('a redelivery retried with its key is one redelivery, singly and in bulk', async () => {
    const { insightly, sink } = stack;
    const created = await call(stack, 'POST', '/instances', {
      json: insightlySeedBody({ callbackUrl: sink.url, refreshInterval: '0.02' }),
    });
    const id = created.body.id as number;
    await sleep(1100);
    const failedList = async () => (await call(stack, 'GET', `/instances/${id}/events?status=failed`)).body.events as { eventId: string }[];
    const attemptsOf = async (eventId: string) =>
      (await call(stack, 'GET', `/instances/${id}/events/${eventId}`)).body.attempts.length as number;
    const received = (eventId: string) => sink.received.filter((r) => r.body.message.eventId === eventId).length;

    sink.answerNext(500, 500, 500);
    insightly.create('Contacts', { N: 1 });
    for (let i = 0; i < 100 && (await failedList()).length < 1; i++) await sleep(100);
    const [failed] = await failedList();
    expect(failed).toBeDefined();
    const eventId = failed!.eventId;
    const key = newKey();
    const route = `/instances/${id}/events/${eventId}/redeliver`;
    const first = await keyedCall(stack.api, 'POST', route, key);
    expect(first.status).toBe(200);
    await sink.waitFor(() => sink.accepted().some((r) => r.body.message.eventId === eventId), 10_000, 'the redelivery');
    const again = await keyedCall(stack.api, 'POST', route, key);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    // Without the key (or with another), a delivered notification is not sent again.
    expect((await keyedCall(stack.api, 'POST', route, newKey())).status).toBe(409);
    const attempts = await attemptsOf(eventId);
    line(`keyed redeliver twice: attempts=${attempts} received=${received(eventId)}`);
    expect(attempts).toBe(4);
    expect(received(eventId)).toBe(4);

    // Bulk: two more fail; one keyed call, retried, redelivers each once and answers the same list.
    sink.answerNext(500, 500, 500, 500, 500, 500);
    insightly.create('Contacts', { N: 2 });
    insightly.create('Leads', { N: 3 });
    for (let i = 0; i < 100 && (await failedList()).length < 2; i++) await sleep(200);
    expect(await failedList()).toHaveLength(2);
    const bulkKey = newKey();
    const bulk = await keyedCall(stack.api, 'POST', `/instances/${id}/events/redeliver`, bulkKey);
    expect(bulk.status).toBe(200);
    expect(bulk.body.redelivered).toBe(2);
    const ids: string[] = bulk.body.eventIds;
    await sink.waitFor(() => ids.every((e) => sink.accepted().some((r) => r.body.message.eventId === e)), 10_000, 'bulk');
    const bulkAgain = await keyedCall(stack.api, 'POST', `/instances/${id}/events/redeliver`, bulkKey);
    expect(bulkAgain.status).toBe(200);
    expect(bulkAgain.body).toEqual(bulk.body);
    const bulkAttempts = await Promise.all(ids.map(attemptsOf));
    line(
      `keyed bulk redeliver twice: listed=${bulkAgain.body.redelivered} attempts=${bulkAttempts.join(',')} received=${ids.map(received).join(',')}`,
    );
    expect(bulkAttempts).toEqual([4, 4]);
    expect(ids.map(received)).toEqual([4, 4]);
    // The single call's key does not leak into the bulk call, and a bad key is refused there too.
    expect((await keyedCall(stack.api, 'POST', `/instances/${id}/events/redeliver`, 'bad\tkey')).status).toBe(400);
    expect((await keyedCall(stack.api, 'POST', route, 'x'.repeat(256))).status).toBe(400);
    await call(stack, 'DELETE', `/instances/${id}`);
  });
});

describe('Idempotency-Key and the instance quota', () => {
  let stack: Stack;
  beforeAll(async () => {
    // An account of its own: the shared Temporal holds other suites' instances of the usual ones.
    stack = await startStack({ env: { MAX_INSTANCES_PER_ACCOUNT: '1', ELEMENTS_ACCOUNTS: 'quota-user:quota-org' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('a replay is not counted as a new instance', async () => {
    const body = insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: 15 });
    const key = `quota-${Date.now()}`;
    const auth = 'User quota-user, Organization quota-org';
    const first = await keyedCall(stack.api, 'POST', '/instances', key, body, auth);
    expect(first.status).toBe(200);
    await settledCount(stack, 1);
    const replays = await Promise.all([...Array(3)].map(() => keyedCall(stack.api, 'POST', '/instances', key, body, auth)));
    // The quota is full (a new instance is refused), yet the replays were answered: none counted as a new instance.
    const another = await call(stack, 'POST', '/instances', { json: body, auth });
    line(`quota with replays: replays=${replays.filter((r) => r.status === 200).length} newInstance=${another.status}`);
    expect(replays.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(another.status).toBe(429);
    await call(stack, 'DELETE', `/instances/${first.body.id}`, { auth });
  });
});
