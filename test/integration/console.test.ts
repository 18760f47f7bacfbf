import type { Page } from 'playwright-core';
import { elements } from '../../src/elements';
import { defineElement } from '../../src/elements/define';
import { call, INSIGHTLY_KEY, insightlySeedBody, createInstance, report, startStack, until, type Stack } from './harness';
import {
  consoleOrigin,
  deleteInstancesOf,
  descriptionOf,
  ensureConsoleBuilt,
  factValue,
  fitsWidth,
  launchBrowser,
  notificationRow,
  recordRequests,
  screenshot,
  signIn,
  type Browser,
} from './console-harness';

jest.setTimeout(180_000);

// 0.02 minutes = 1.2 s between polls (EVENTS_MIN_REFRESH_INTERVAL_MINUTES allows it in the harness).
const FAST = '0.02';
const TEMPORAL_UI = 'http://127.0.0.1:8233';

/** An element only this test knows: the console offers it with no console code. */
const testElement = defineElement({
  id: 901,
  key: 'consolecrm',
  name: 'Console Test CRM',
  description: 'An element registered by the console test alone.',
  vendorTypes: ['polling'],
  configuration: [
    { name: 'crm.token', label: 'CRM token', type: 'password', required: true, secret: true, description: 'The token.' },
    { name: 'crm.region', label: 'Region', type: 'string', required: false, secret: false, default: 'eu', description: 'Where.' },
    { name: 'crm.sandbox', label: 'Sandbox account', type: 'boolean', required: false, secret: false, description: 'A test account.' },
  ],
  urlSettings: { CONSOLECRM_API_URL: 'https://crm.invalid' },
  example: { summary: 'Console Test CRM', name: 'CRM', configuration: { 'crm.token': 't', 'event.notification.enabled': false } },
  connect: () => Promise.resolve({}),
  polling: {
    defaultResources: { widgets: { url: '/widgets?since=${epoch}', idField: 'id' } },
    resourceProblems: () => [],
    fetchChanges: async function* () {},
  },
});

/** The console in Chromium against the real app, a real Temporal and the fake Insightly. */
describe('web console (Insightly, sign-in, forms, phone width)', () => {
  let stack: Stack;
  let browser: Browser;
  let origin: string;
  const pages: Page[] = [];
  const newPage = async (viewport?: { width: number; height: number }) => {
    const page = await browser.newPage(viewport);
    pages.push(page);
    return page;
  };

  beforeAll(async () => {
    ensureConsoleBuilt();
    stack = await startStack({ env: { TEMPORAL_UI_URL: TEMPORAL_UI }, elements: new Map([...elements, [testElement.key, testElement]]) });
    origin = consoleOrigin(stack);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    if (stack) await deleteInstancesOf(stack);
    await stack?.stop();
  });
  afterEach(async () => {
    for (const page of pages.splice(0)) await page.close();
  });

  test('the app serves the console at / with a CSP that works over plain http, and keeps /elements/ as the API', async () => {
    const problems: string[] = [];
    // Both names of the loopback, each in a tab of its own (a navigation would cut the other's requests short).
    for (const base of [origin, origin.replace('127.0.0.1', 'localhost')]) {
      const page = await newPage();
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('requestfailed', (r) => problems.push(`${r.url()} ${r.failure()?.errorText}`));
      const answer = await page.goto(`${base}/`);
      expect(answer?.headers()['content-security-policy']).not.toContain('upgrade-insecure-requests');
      expect(answer?.headers()['content-security-policy']).toContain("script-src 'self'");
      expect(answer?.headers()['cache-control']).toBe('no-store');
      await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      // Everything the page asks for (its script, styles and icon) has been answered.
      await page.waitForLoadState('networkidle');
    }
    expect(problems).toEqual([]);
    const page = pages[0]!;
    const asset = String(await page.locator('script[type=module]').getAttribute('src'));
    const assetAnswer = await fetch(new URL(asset, origin));
    expect(assetAnswer.headers.get('cache-control')).toMatch(/max-age=31536000.*immutable/);
    // A page path of the console is the console; anything under /elements/ stays the API's.
    const deep = await fetch(`${origin}/instances/123`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain('<div id="app">');
    const api = await fetch(`${origin}/elements/api-v2/no-such-route`, { headers: { authorization: 'User x, Organization y' } });
    expect(api.status).toBe(401);
    const unknown = await fetch(`${origin}/elements/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ message: 'No route for GET /elements/nothing-here' });
  });

  test('GET /instances?include=summary adds each instance’s last poll and failed deliveries, 25 a page at most', async () => {
    const tooMany = await call(stack, 'GET', '/instances?include=summary&pageSize=26');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors).toEqual([{ path: 'pageSize', message: 'must be at most 25 with include=summary' }]);
    expect((await call(stack, 'GET', '/instances?include=everything')).status).toBe(400);
    const { id } = await createInstance(stack, insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: FAST }));
    await until(async () => (await call(stack, 'GET', `/instances/${id}`)).body.status.polls >= 1, 'the first poll');
    const list = await call(stack, 'GET', '/instances?include=summary&pageSize=25');
    expect(list.status).toBe(200);
    const summary = list.body.find((i: { id: number }) => i.id === id).summary;
    expect(summary).toEqual({ lastPollAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), failedDeliveries: 0 });
    // Without it, the list is as before: the memo's view, no live figures.
    const plain = await call(stack, 'GET', '/instances');
    expect(plain.body.find((i: { id: number }) => i.id === id).summary).toBeUndefined();
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });

  test('an instance no worker answers for is listed without its times, and does not hold the page', async () => {
    // Another stack of the same account, without a worker: its instance's workflow never answers a query.
    const idle = await startStack({ worker: 'none' });
    try {
      const { id } = await createInstance(idle, insightlySeedBody({ callbackUrl: idle.sink.url, refreshInterval: 60 }));
      const started = Date.now();
      const list = await call(stack, 'GET', '/instances?include=summary');
      const took = Date.now() - started;
      expect(list.status).toBe(200);
      expect(list.body.find((i: { id: number }) => i.id === id).summary).toEqual({
        failedDeliveries: 0,
        unavailable: 'the instance did not answer within 3 s',
      });
      report('summary of an instance without a worker', { 'list answered in ms': took });
      expect(took).toBeLessThan(15_000);
      await idle.client.workflow.getHandle(`instance-${id}`).terminate('test over: no worker will ever run it');
    } finally {
      await idle.stop();
    }
  });

  test('wrong secrets: an error message and no data; the secrets never travel in a URL', async () => {
    await createInstance(stack, insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: 60 }));
    const page = await newPage();
    const requests = recordRequests(page);
    await page.goto(`${origin}/`);
    await page.getByLabel('User secret').fill('not-the-user-secret');
    await page.getByLabel('Organization secret').fill('not-the-org-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toContain('Those secrets were refused');
    await screenshot(page, 'sign-in-refused');
    // Still the sign-in page: no list, no instance name, nothing kept.
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Sign in');
    expect(await page.getByRole('table').count()).toBe(0);
    expect(await page.getByText('API Instance with Polling').count()).toBe(0);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    const refused = requests.filter((r) => r.url().includes('/elements/api-v2/'));
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.url()).not.toContain('not-the-');
      expect(r.headers().authorization).toBe('User not-the-user-secret, Organization not-the-org-secret');
    }

    // The right ones: the list shows the account's instance, and still no secret in any URL.
    await page.getByLabel('User secret').fill('test-user-secret');
    await page.getByLabel('Organization secret').fill('test-organization-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'API Instance with Polling' }).first().waitFor();
    for (const r of requests) expect(r.url()).not.toMatch(/test-user-secret|test-organization-secret/);
  });

  test('bad form input: each message shows beside the field it names (the API’s errors[].path), and nothing is created', async () => {
    const page = await newPage();
    await signIn(page, origin);
    const before = (await call(stack, 'GET', '/instances')).body.length;
    await page.getByRole('main').getByRole('link', { name: 'New instance' }).click();
    await page.getByLabel('Element').selectOption({ label: 'Insightly' });
    // The element's own configuration, rendered from GET /elements: the API key is a password input.
    expect(await page.getByLabel('API key').getAttribute('type')).toBe('password');
    await page.getByRole('button', { name: 'Create instance' }).click();
    // Left empty: the console says so before asking the API.
    const name = page.getByLabel('Name', { exact: true });
    await until(async () => (await name.getAttribute('aria-invalid')) === 'true', 'the Name field marked invalid', 30_000);
    expect(await descriptionOf(page, name)).toContain('is required');
    expect(await descriptionOf(page, page.getByLabel('API key'))).toContain('is required');

    await name.fill('Bad callback');
    await page.getByLabel('API key').fill(INSIGHTLY_KEY);
    await page.getByLabel('Callback URL').fill('ftp://example.com/events');
    await page.getByLabel('Refresh interval (minutes)').fill('-3');
    await page.getByRole('button', { name: 'Create instance' }).click();
    // The API's 400 names configuration.event.notification.callback.url and the interval: each beside its field.
    const callback = page.getByLabel('Callback URL');
    await until(
      async () => (await descriptionOf(page, callback)).includes('must be an absolute http(s) URL'),
      'the API’s message beside the Callback URL',
      30_000,
    );
    expect(await callback.getAttribute('aria-invalid')).toBe('true');
    expect(await descriptionOf(page, page.getByLabel('Refresh interval (minutes)'))).toContain('must be a positive number of minutes');
    expect(await page.getByRole('alert').first().innerText()).toContain('Invalid configuration');
    expect(await name.getAttribute('aria-invalid')).toBeNull();
    await screenshot(page, 'create-invalid');
    expect((await call(stack, 'GET', '/instances')).body.length).toBe(before);
  });

  test('sign in, create an Insightly instance with two resources from the form, see a change in its log, turn events off: polls stop', async () => {
    const { insightly, sink } = stack;
    const page = await newPage();
    await signIn(page, origin);
    await page.getByRole('main').getByRole('link', { name: 'New instance' }).click();
    await page.getByRole('heading', { level: 1, name: 'New instance' }).waitFor();
    await page.getByLabel('Element').selectOption({ label: 'Insightly' });
    await page.getByLabel('Name', { exact: true }).fill('Console polling');
    await page.getByLabel('Tags').fill('console, docs');
    await page.getByLabel('User name').fill('ops@example.com');
    await page.getByLabel('API key').fill(INSIGHTLY_KEY);
    await page.getByLabel('Callback URL').fill(sink.url);
    await page.getByLabel('Refresh interval (minutes)').fill(FAST);
    // Every default resource starts checked; two are kept.
    for (const name of ['contacts', 'accounts', 'leads', 'opportunities'])
      expect(await page.getByRole('checkbox', { name, exact: true }).isChecked()).toBe(true);
    await page.getByRole('checkbox', { name: 'leads', exact: true }).uncheck();
    await page.getByRole('checkbox', { name: 'opportunities', exact: true }).uncheck();
    // The advanced settings show the element's defaults, editable.
    await page.getByText('Advanced: contacts').click();
    expect(await page.getByLabel('contacts ID field').inputValue()).toBe('CONTACT_ID');
    expect(await page.getByLabel('contacts URL').inputValue()).toContain('/hubs/crm/contacts');
    await screenshot(page, 'create-insightly');
    await page.getByRole('button', { name: 'Create instance' }).click();

    await page.getByRole('heading', { level: 1, name: 'Console polling' }).waitFor();
    expect(await page.getByRole('status').first().innerText()).toContain('Instance created');
    expect(await page.getByRole('textbox', { name: 'Element token' }).inputValue()).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const id = Number(/\/instances\/(\d+)$/.exec(page.url())![1]);
    const view = await call(stack, 'GET', `/instances/${id}`);
    expect(Object.keys(view.body.status.resources).sort()).toEqual(['accounts', 'contacts']);
    expect(view.body).toMatchObject({ name: 'Console polling', tags: ['console', 'docs'], eventsEnabled: true });
    expect(view.body.configuration.password).toBe('********');
    expect(await page.getByRole('link', { name: /Temporal UI/ }).getAttribute('href')).toBe(
      `${TEMPORAL_UI}/namespaces/default/workflows/instance-${id}`,
    );

    // A change made after the first poll shows up in the notification log, delivered.
    await until(async () => (await call(stack, 'GET', `/instances/${id}`)).body.status.polls >= 1, 'the first poll');
    const contact = insightly.create('Contacts', { FIRST_NAME: 'Ada' });
    const delivered = notificationRow(page, 'delivered');
    await delivered.waitFor({ timeout: 60_000 });
    expect(await delivered.getByRole('cell').nth(2).innerText()).toBe('1');
    await delivered.getByRole('button', { name: /^Attempts of/ }).click();
    const attempts = page.getByRole('table', { name: /^Attempts of/ });
    await attempts.waitFor();
    expect(await attempts.innerText()).toContain('answered 200');
    expect(await attempts.innerText()).toContain(sink.url);
    const received = sink.acceptedEvents().filter((e) => e.objectId === String(contact.CONTACT_ID));
    expect(received).toEqual([expect.objectContaining({ objectType: 'contacts', eventType: 'CREATED' })]);
    await page.getByRole('row', { name: /^contacts/ }).waitFor();
    expect(await page.getByRole('row', { name: /^leads/ }).count()).toBe(0);
    await screenshot(page, 'instance-insightly');

    // Events off from the page: no poll is scheduled, and the poll count stays while another instance polls on.
    await page.getByRole('button', { name: 'Turn events off' }).click();
    await page.getByRole('button', { name: 'Turn events on' }).waitFor();
    expect(await factValue(page, 'Events')).toBe('off');
    expect(await factValue(page, 'Next poll')).toBe('none scheduled');
    const pollsWhenOff = Number(await factValue(page, 'Polls'));
    expect((await call(stack, 'GET', `/instances/${id}`)).body.status.polls).toBe(pollsWhenOff);
    const canary = await createInstance(stack, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: FAST }));
    await until(
      async () => (await call(stack, 'GET', `/instances/${canary.id}`)).body.status.polls >= 3,
      'three polls of another instance',
    );
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Console polling' }).waitFor();
    expect(Number(await factValue(page, 'Polls'))).toBe(pollsWhenOff);
    expect((await call(stack, 'GET', `/instances/${id}`)).body.status.polls).toBe(pollsWhenOff);
    report('console events off', { pollsWhenOff, canaryPolls: (await call(stack, 'GET', `/instances/${canary.id}`)).body.status.polls });
    await call(stack, 'DELETE', `/instances/${canary.id}`);

    // The list: events off, its last poll, no failed deliveries.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Instances' }).click();
    const row = page.getByRole('row', { name: /Console polling/ });
    await row.waitFor();
    const cells = row.getByRole('cell');
    expect(await cells.nth(0).innerText()).toBe('Insightly');
    expect(await cells.nth(1).innerText()).toBe('off');
    expect(await cells.nth(2).innerText()).toMatch(/^poll /);
    expect(await cells.nth(3).innerText()).toBe('0');
    await screenshot(page, 'instances');
  });

  test('an element registered only in this test appears in the picker with its fields, rendered from its description', async () => {
    const page = await newPage();
    await signIn(page, origin);
    await page.getByRole('main').getByRole('link', { name: 'New instance' }).click();
    const picker = page.getByLabel('Element');
    await page.getByRole('option', { name: 'Console Test CRM' }).waitFor({ state: 'attached' });
    expect(await picker.locator('option').allInnerTexts()).toEqual(['Choose an element…', 'Insightly', 'FreshBooks', 'Console Test CRM']);
    await picker.selectOption({ label: 'Console Test CRM' });
    await page.getByRole('group', { name: 'Console Test CRM account' }).waitFor();
    const token = page.getByLabel('CRM token');
    expect(await token.getAttribute('type')).toBe('password');
    expect(await token.getAttribute('required')).not.toBeNull();
    expect(await descriptionOf(page, token)).toBe('The token.');
    expect(await page.getByLabel('Region').inputValue()).toBe('eu');
    expect(await page.getByRole('checkbox', { name: 'Sandbox account' }).isChecked()).toBe(false);
    expect(await page.getByRole('checkbox', { name: 'widgets' }).isChecked()).toBe(true);
    expect(await page.getByRole('button', { name: 'Create instance' }).isVisible()).toBe(true);
    await screenshot(page, 'create-test-element');
  });

  test('a phone-width viewport shows the list, the instance page and the form without sideways scrolling', async () => {
    const { id } = await createInstance(stack, insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: 60 }));
    const page = await newPage({ width: 375, height: 740 });
    await signIn(page, origin);
    await page.getByRole('link', { name: 'API Instance with Polling' }).first().waitFor();
    expect(await fitsWidth(page)).toBe(true);
    // Rows become cards: each cell says which column it is.
    expect(
      await page
        .getByRole('row', { name: /API Instance with Polling/ })
        .first()
        .isVisible(),
    ).toBe(true);
    await screenshot(page, 'instances-phone');

    await page.goto(`${origin}/instances/${id}`);
    await page.getByRole('heading', { level: 1, name: 'API Instance with Polling' }).waitFor();
    await page.getByRole('row', { name: /^contacts/ }).waitFor();
    expect(await fitsWidth(page)).toBe(true);
    for (const name of ['Turn events off', 'Save changes', 'Rotate the token', 'Delete instance…']) {
      const button = page.getByRole('button', { name });
      expect(await button.isVisible()).toBe(true);
      const box = (await button.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(375);
    }
    await screenshot(page, 'instance-phone');

    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'New instance' }).click();
    await page.getByLabel('Element').selectOption({ label: 'Insightly' });
    await page.getByLabel('Callback URL').waitFor();
    expect(await fitsWidth(page)).toBe(true);
    await screenshot(page, 'create-phone');
  });

  test('keyboard: sign in, open an instance, rotate its token and delete it (after confirming) without a mouse', async () => {
    const { id } = await createInstance(stack, {
      ...insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: 60 }),
      name: 'Keyboard only',
    });
    const page = await newPage();
    await page.goto(`${origin}/instances/${id}`);
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    // The heading takes the focus; Tab moves through the form in order.
    await page.keyboard.press('Tab');
    await page.keyboard.type('test-user-secret');
    await page.keyboard.press('Tab');
    await page.keyboard.type('test-organization-secret');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Keyboard only' }).waitFor();
    await page.getByRole('button', { name: 'Rotate the token' }).focus();
    await page.keyboard.press('Enter');
    const token = page.getByRole('textbox', { name: 'Element token' });
    await token.waitFor();
    const newToken = await token.inputValue();
    expect((await call(stack, 'GET', `/instances/${id}`, { auth: `User test-user-secret, Element ${newToken}` })).status).toBe(200);
    // The focused button shows a visible focus ring.
    // The button keeps the focus (it is not disabled while busy) and shows a visible focus ring.
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Rotate the token');
    expect(
      await page.evaluate('document.activeElement.matches(":focus-visible") && getComputedStyle(document.activeElement).outlineStyle'),
    ).toBe('solid');

    await page.getByRole('button', { name: 'Delete instance…' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Delete "Keyboard only"?' });
    await dialog.waitFor();
    await screenshot(page, 'delete-confirm');
    // Escape cancels; nothing is deleted.
    await page.keyboard.press('Escape');
    await until(async () => !(await dialog.isVisible()), 'the dialog closed', 10_000);
    expect((await call(stack, 'GET', `/instances/${id}`)).status).toBe(200);
    await page.getByRole('button', { name: 'Delete instance…' }).focus();
    await page.keyboard.press('Enter');
    await dialog.getByRole('button', { name: 'Delete permanently' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Instances' }).waitFor();
    expect(await page.getByRole('status').first().innerText()).toContain('"Keyboard only" was deleted');
    expect((await call(stack, 'GET', `/instances/${id}`)).status).toBe(404);
  });
});
