import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  call,
  createInstance,
  insightlySeedBody,
  instanceWorkflowCount,
  OTHER_ACCOUNT_AUTH,
  PLATFORM_AUTH,
  sleep,
  startStack,
  type Stack,
  TEST_ORGANIZATION_SECRET,
  TEST_USER_SECRET,
} from './harness';

jest.setTimeout(60_000);

// The seed's curl example, byte for byte: its password line lacks the comma after it.
const SEED_CURL_BODY = readFileSync(path.join(__dirname, '..', 'fixtures', 'insightly-seed-curl-body.txt'), 'utf8');
const SEED_API_KEY = 'xxxxxxxxxxxxxxxxxxxxxxxx';

describe('instances API: validation, authentication and ownership', () => {
  let stack: Stack;
  beforeAll(async () => {
    // The seed's curl carries its placeholder key as the API key, so the fake accepts that one.
    stack = await startStack({ insightlyKey: SEED_API_KEY });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const validBody = () => {
    const body = insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: 15 });
    body.configuration.password = SEED_API_KEY;
    return body;
  };

  test('the seed curl as printed gets a 400 naming the JSON error; with the comma fixed it is accepted', async () => {
    const broken = await call(stack, 'POST', '/instances', { raw: SEED_CURL_BODY });
    expect(broken.status).toBe(400);
    expect(broken.body.message).toMatch(
      /^Invalid JSON in request body: .*(after property value|Expected ','|Unexpected string).*position \d+/,
    );
    expect(broken.body.requestId).toEqual(expect.any(String));

    const fixed = SEED_CURL_BODY.replace(`"password": "${SEED_API_KEY}"\n`, `"password": "${SEED_API_KEY}",\n`);
    expect(fixed).not.toBe(SEED_CURL_BODY);
    const before = await instanceWorkflowCount(stack);
    const created = await call(stack, 'POST', '/instances', { raw: fixed });
    expect(created.status).toBe(200);
    // The same count the refusals below rely on does see a new instance.
    for (let i = 0; i < 50 && (await instanceWorkflowCount(stack)) === before; i++) await sleep(100);
    expect(await instanceWorkflowCount(stack)).toBe(before + 1);
    expect(created.body).toMatchObject({
      name: 'API Instance with Polling',
      element: { key: 'insightly' },
      tags: ['Docs'],
      eventsEnabled: true,
      configuration: { password: '********', 'event.poller.refresh_interval': '15' },
    });
    expect(JSON.stringify(created.body)).not.toContain(SEED_API_KEY);
    expect(created.body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(Date.parse(created.body.createdDate)).not.toBeNaN();
    expect((await call(stack, 'DELETE', `/instances/${created.body.id}`)).status).toBe(200);
  });

  const badCases: [string, (b: ReturnType<typeof validBody>) => unknown, number, RegExp][] = [
    ['unknown element', (b) => ({ ...b, element: { key: 'salesforce-ish' } }), 400, /Unknown element "salesforce-ish"/],
    [
      'events enabled without a callback URL',
      (b) => {
        delete (b.configuration as Record<string, unknown>)['event.notification.callback.url'];
        return b;
      },
      400,
      /callback\.url.*required/,
    ],
    ['refresh interval "abc"', (b) => ((b.configuration['event.poller.refresh_interval'] = 'abc'), b), 400, /refresh_interval/],
    ['refresh interval 0', (b) => ((b.configuration['event.poller.refresh_interval'] = 0 as never), b), 400, /refresh_interval.*positive/],
    ['refresh interval -5', (b) => ((b.configuration['event.poller.refresh_interval'] = '-5'), b), 400, /refresh_interval/],
    ['refresh interval empty', (b) => ((b.configuration['event.poller.refresh_interval'] = ''), b), 400, /refresh_interval/],
    ['callback URL not http(s)', (b) => ((b.configuration['event.notification.callback.url'] = 'ftp://x'), b), 400, /http\(s\)/],
    ['no name', (b) => ({ ...b, name: '' }), 400, /name/],
    ['configuration not an object', (b) => ({ ...b, configuration: 'x' }), 400, /configuration/],
    [
      'a where clause Insightly cannot run',
      (b) => {
        b.configuration['event.poller.configuration'].contacts.url = "/hubs/crm/contacts?where=lastName='Lovelace'";
        return b;
      },
      400,
      /cannot translate the where clause on "lastName"/,
    ],
    [
      'an unknown date template',
      (b) => {
        b.configuration['event.poller.configuration'].contacts.url = "/hubs/crm/contacts?where=updated_after_utc='${yesterday}'";
        return b;
      },
      400,
      /yesterday/,
    ],
    [
      'a bad date pattern',
      (b) => {
        b.configuration['event.poller.configuration'].contacts.datesConfiguration.updatedDateFormat = 'yyyy-QQ';
        return b;
      },
      400,
      /datesConfiguration/,
    ],
    [
      'an unknown resource without url',
      (b) => {
        (b.configuration['event.poller.configuration'] as Record<string, unknown>).tasks = {};
        return b;
      },
      400,
      /"tasks" has no defaults/,
    ],
    ['a wrong Insightly API key', (b) => ((b.configuration.password = 'wrong-key'), b), 400, /Insightly refused the API key/],
  ];

  test.each(badCases)('%s is refused and leaves no workflow behind', async (_name, mutate, status, message) => {
    const before = await instanceWorkflowCount(stack);
    const calls = stack.temporalCalls.length;
    const res = await call(stack, 'POST', '/instances', { json: mutate(validBody()) });
    expect(res.status).toBe(status);
    expect(res.body.message).toMatch(message);
    expect(JSON.stringify(res.body)).not.toContain(SEED_API_KEY);
    // Refused before any workflow was started: no start call reached Temporal.
    expect(stack.temporalCalls.slice(calls).filter((c) => c.endsWith('/StartWorkflowExecution'))).toEqual([]);
    expect(await instanceWorkflowCount(stack)).toBe(before);
  });

  test('wrong, missing or malformed secrets get 401 and start nothing', async () => {
    const before = await instanceWorkflowCount(stack);
    for (const auth of [
      `User ${TEST_USER_SECRET}, Organization wrong`,
      `User wrong, Organization ${TEST_ORGANIZATION_SECRET}`,
      'Bearer abc',
      null,
    ]) {
      const res = await call(stack, 'POST', '/instances', { auth, json: validBody() });
      expect(res.status).toBe(401);
      expect(res.body.message).toEqual(expect.any(String));
    }
    expect((await call(stack, 'GET', '/instances', { auth: 'User x, Organization y' })).status).toBe(401);
    expect(await instanceWorkflowCount(stack)).toBe(before);
  });

  test('a body that is not JSON is refused with 415, an oversized one with 413', async () => {
    const form = await call(stack, 'POST', '/instances', { raw: 'a=b', contentType: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    const huge = await call(stack, 'POST', '/instances', { raw: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }) });
    expect(huge.status).toBe(413);
  });

  test('another account gets 404 for an instance; an Element token reaches only its own instance', async () => {
    const mine = await createInstance(stack, validBody());
    const second = await createInstance(stack, validBody());

    for (const method of ['GET', 'DELETE', 'PATCH']) {
      const res = await call(stack, method, `/instances/${mine.id}`, {
        auth: OTHER_ACCOUNT_AUTH,
        json: method === 'PATCH' ? { name: 'taken over' } : undefined,
      });
      expect(res.status).toBe(404);
    }
    const othersList = await call(stack, 'GET', '/instances', { auth: OTHER_ACCOUNT_AUTH });
    expect(othersList.status).toBe(200);
    expect(othersList.body.map((i: { id: number }) => i.id)).not.toContain(mine.id);

    const ownList = await call(stack, 'GET', '/instances');
    expect(ownList.body.map((i: { id: number }) => i.id)).toEqual(expect.arrayContaining([mine.id, second.id]));

    const elementAuth = `User ${TEST_USER_SECRET}, Element ${mine.token}`;
    expect((await call(stack, 'GET', `/instances/${mine.id}`, { auth: elementAuth })).status).toBe(200);
    expect((await call(stack, 'GET', `/instances/${second.id}`, { auth: elementAuth })).status).toBe(404);
    expect((await call(stack, 'PATCH', `/instances/${second.id}`, { auth: elementAuth, json: { name: 'x' } })).status).toBe(404);
    // Deleting takes the platform secrets, whichever instance the token names.
    expect((await call(stack, 'DELETE', `/instances/${second.id}`, { auth: elementAuth })).status).toBe(403);
    // Its own token may change its own instance.
    const renamed = await call(stack, 'PATCH', `/instances/${mine.id}`, { auth: elementAuth, json: { name: 'renamed', tags: ['t'] } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'renamed', tags: ['t'] });
    expect((await call(stack, 'GET', `/instances/${second.id}`)).body.name).toBe('API Instance with Polling');
    const scoped = await call(stack, 'GET', '/instances', { auth: elementAuth });
    expect(scoped.body.map((i: { id: number }) => i.id)).toEqual([mine.id]);
    expect((await call(stack, 'GET', `/instances/${mine.id}`, { auth: `User wrong, Element ${mine.token}` })).status).toBe(401);
    expect((await call(stack, 'POST', '/instances', { auth: elementAuth, json: validBody() })).status).toBe(403);
    expect((await call(stack, 'GET', '/instances/not-a-number')).status).toBe(404);
    expect((await call(stack, 'GET', '/instances/999')).status).toBe(404);

    expect((await call(stack, 'DELETE', `/instances/${mine.id}`)).status).toBe(200);
    expect((await call(stack, 'DELETE', `/instances/${mine.id}`)).status).toBe(404);
    expect((await call(stack, 'DELETE', `/instances/${second.id}`, { auth: PLATFORM_AUTH })).status).toBe(200);
  });

  test('healthz answers 200 with Temporal and a worker reachable', async () => {
    const res = await call(stack, 'GET', '/healthz', { auth: null });
    expect([res.status, res.body]).toEqual([200, { status: 'ok', api: true, temporal: true, worker: true }]);
  });
});
