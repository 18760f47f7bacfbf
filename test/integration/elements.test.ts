import { defineElement } from '../../src/elements/define';
import { elements } from '../../src/elements';
import { FRESHBOOKS_CLIENT, call, freshbooksSeedBody, report, startStack, waitForVerified, type Stack } from './harness';

/** An element only this test knows: it must be described like the built-in ones, with no other code. */
// A FreshBooks create waits for its 18 callbacks to verify: seconds on a busy machine, past jest's default 5.
jest.setTimeout(60_000);

const testElement = defineElement({
  id: 900,
  key: 'testcrm',
  name: 'Test CRM',
  description: 'An element registered by the test alone.',
  vendorTypes: ['polling'],
  configuration: [
    { name: 'crm.token', label: 'CRM token', type: 'password', required: true, secret: true, description: 'The token.' },
    { name: 'crm.region', label: 'Region', type: 'string', required: false, secret: false, default: 'eu', description: 'Where.' },
  ],
  urlSettings: { TESTCRM_API_URL: 'https://crm.invalid' },
  example: { summary: 'Test CRM', name: 'CRM', configuration: { 'crm.token': 't', 'event.notification.enabled': false } },
  connect: () => Promise.resolve({}),
  polling: {
    defaultResources: { widgets: { url: '/widgets?since=${epoch}', idField: 'id' } },
    resourceProblems: () => [],
    fetchChanges: async function* () {},
  },
});

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ elements: new Map([...elements, [testElement.key, testElement]]) });
});

afterAll(async () => {
  await stack?.stop();
});

describe('elements describe themselves', () => {
  test('GET /elements lists every element with its authentication, configuration keys (secrets marked) and events', async () => {
    const res = await call(stack, 'GET', '/elements');
    expect(res.status).toBe(200);
    const byKey = Object.fromEntries(res.body.map((e: { key: string }) => [e.key, e]));
    expect(Object.keys(byKey)).toEqual(['insightly', 'freshbooksv2', 'testcrm']);

    const insightly = byKey.insightly;
    expect(insightly).toMatchObject({ id: 1, name: 'Insightly', vendorTypes: ['polling'], authentication: { type: 'apiKey' } });
    expect(
      insightly.configuration.map((k: { name: string; secret: boolean; required: boolean }) => [k.name, k.secret, k.required]),
    ).toEqual([
      ['username', false, false],
      ['password', true, true],
    ]);
    expect(Object.keys(insightly.events.polling.resources)).toEqual(['contacts', 'accounts', 'leads', 'opportunities']);
    expect(insightly.events.polling.resources.contacts).toMatchObject({ idField: 'CONTACT_ID', pollOverlap: 60 });
    expect(insightly.events.webhooks).toBeUndefined();

    const freshbooks = byKey.freshbooksv2;
    expect(freshbooks).toMatchObject({
      id: 2,
      name: 'FreshBooks',
      vendorTypes: ['webhooks'],
      authentication: {
        type: 'oauth2',
        oauthUrl: '/elements/api-v2/elements/freshbooksv2/oauth/url',
        apiKeyField: 'oauth.api.key',
        apiSecretField: 'oauth.api.secret',
        callbackUrlField: 'oauth.callback.url',
        providerData: ['code'],
      },
    });
    expect(freshbooks.configuration.map((k: { name: string; secret: boolean; type: string }) => [k.name, k.secret, k.type])).toEqual([
      ['oauth.api.key', false, 'string'],
      ['oauth.api.secret', true, 'password'],
      ['oauth.callback.url', false, 'url'],
      ['business.name', false, 'string'],
    ]);
    expect(freshbooks.events.webhooks.defaultObjects).toEqual(['client', 'invoice', 'estimate', 'expense', 'payment', 'item']);
    expect(freshbooks.events.webhooks.actions).toEqual(['create', 'update', 'delete']);
    expect(freshbooks.events.webhooks.objects).toEqual(expect.arrayContaining(['project', 'time_entry', 'bill']));
    for (const element of res.body) for (const key of element.configuration) expect(key.label.length).toBeGreaterThan(0);

    expect(byKey.testcrm.configuration).toEqual([
      { name: 'crm.token', label: 'CRM token', type: 'password', required: true, secret: true, description: 'The token.' },
      { name: 'crm.region', label: 'Region', type: 'string', required: false, secret: false, default: 'eu', description: 'Where.' },
    ]);
  });

  test('one element by key or by id; unknown is 404; the secrets are needed', async () => {
    const byKey = await call(stack, 'GET', '/elements/freshbooksv2');
    const byId = await call(stack, 'GET', '/elements/2');
    expect(byKey.status).toBe(200);
    expect(byId.body).toEqual(byKey.body);
    expect((await call(stack, 'GET', '/elements/nosuch')).status).toBe(404);
    expect((await call(stack, 'GET', '/elements/77')).status).toBe(404);
    expect((await call(stack, 'GET', '/elements', { auth: null })).status).toBe(401);
    expect(
      (await call(stack, 'GET', '/elements/freshbooksv2/oauth/url?apiKey=a&callbackUrl=https://x.example', { auth: null })).status,
    ).toBe(401);
  });

  test('validation comes from the declared keys: a missing required key and a redirect URI that is no URL are named', async () => {
    const body = freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl: stack.sink.url });
    delete body.configuration['business.name'];
    body.configuration['oauth.callback.url'] = 'not a url';
    const res = await call(stack, 'POST', '/instances', { json: body });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { path: 'configuration.business.name', message: 'business.name (Business name) is required' },
        { path: 'configuration.oauth.callback.url', message: 'oauth.callback.url must be an absolute http(s) URL' },
      ]),
    );
  });
});

describe('OAuth URL', () => {
  const redirectUri = 'https://console.example/oauth/return';

  test("FreshBooks: the consent page with the caller's client id, redirect URI and state; the secret is not echoed", async () => {
    const query = new URLSearchParams({
      apiKey: FRESHBOOKS_CLIENT.clientId,
      apiSecret: FRESHBOOKS_CLIENT.clientSecret,
      callbackUrl: redirectUri,
      state: 'state-123',
    });
    const res = await call(stack, 'GET', `/elements/freshbooksv2/oauth/url?${query}`);
    expect(res.status).toBe(200);
    expect(res.body.element).toBe('freshbooksv2');
    expect(JSON.stringify(res.body)).not.toContain(FRESHBOOKS_CLIENT.clientSecret);
    const url = new URL(res.body.oauthUrl);
    // FRESHBOOKS_AUTH_URL points at the fake; by default it is https://auth.freshbooks.com.
    expect(`${url.origin}${url.pathname}`).toBe(`${stack.freshbooks.url}/oauth/authorize`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: FRESHBOOKS_CLIENT.clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      state: 'state-123',
    });
    // By id as well.
    expect((await call(stack, 'GET', `/elements/2/oauth/url?${query}`)).body).toEqual(res.body);
  });

  test('the whole dance: consent page → redirect with code and state → that code creates the instance', async () => {
    stack.freshbooks.addRedirectUri(redirectUri);
    const query = new URLSearchParams({ apiKey: FRESHBOOKS_CLIENT.clientId, callbackUrl: redirectUri, state: 's-42' });
    const { body } = await call(stack, 'GET', `/elements/freshbooksv2/oauth/url?${query}`);
    const consent = await fetch(body.oauthUrl, { redirect: 'manual' });
    expect(consent.status).toBe(302);
    const back = new URL(consent.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    expect(back.searchParams.get('state')).toBe('s-42');
    const seed = freshbooksSeedBody({ code: back.searchParams.get('code')!, callbackUrl: stack.sink.url });
    seed.configuration['oauth.callback.url'] = redirectUri;
    const created = await call(stack, 'POST', '/instances', { json: seed });
    expect(created.status).toBe(200);
    await waitForVerified(stack, created.body.id, 18);
    const view = await call(stack, 'GET', `/instances/${created.body.id}`);
    report('oauth dance', { consentPages: stack.freshbooks.authorizations.length, verified: view.body.status.callbacks.verified });
    expect(view.body.status.callbacks.verified).toBe(18);
    expect((await call(stack, 'DELETE', `/instances/${created.body.id}`)).status).toBe(200);
  });

  test('an element without OAuth, missing or bad parameters: 400s that name them', async () => {
    const insightly = await call(stack, 'GET', '/elements/insightly/oauth/url?apiKey=a&callbackUrl=https://x.example');
    expect(insightly.status).toBe(400);
    expect(insightly.body.message).toMatch(/insightly does not authenticate with OAuth/);
    const missing = await call(stack, 'GET', '/elements/freshbooksv2/oauth/url?callbackUrl=ftp://x.example');
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['apiKey', 'callbackUrl']);
    expect((await call(stack, 'GET', '/elements/nosuch/oauth/url?apiKey=a&callbackUrl=https://x.example')).status).toBe(404);
    // Too long, or given twice: said so, not "required".
    const long = await call(stack, 'GET', `/elements/freshbooksv2/oauth/url?apiKey=${'a'.repeat(1025)}&callbackUrl=https://x.example`);
    expect(long.body.errors).toEqual([{ path: 'apiKey', message: 'apiKey must be at most 1024 characters' }]);
    const twice = await call(stack, 'GET', '/elements/freshbooksv2/oauth/url?apiKey=a&apiKey=b&callbackUrl=https://x.example');
    expect(twice.body.errors).toEqual([{ path: 'apiKey', message: 'apiKey must be given once, as text' }]);
    const unknown = await call(stack, 'GET', `/elements/${'k'.repeat(5000)}`);
    expect([unknown.status, unknown.body.message]).toEqual([404, 'Element not found']);
  });
});
