import type { Page } from 'playwright-core';
import { FRESHBOOKS_CLIENT, call, createInstance, insightlySeedBody, report, startStack, until, type Stack } from './harness';
import {
  consoleOrigin,
  deleteInstancesOf,
  ensureConsoleBuilt,
  factValue,
  launchBrowser,
  notificationRow,
  screenshot,
  signIn,
  type Browser,
} from './console-harness';

jest.setTimeout(180_000);

/**
 * The console's OAuth connection (FreshBooks through the fake's consent page) and its notification
 * log's failure and redelivery, in Chromium against the real app and a real Temporal. Deliveries give
 * up after 2 attempts here (1 s apart), so a failing callback fails within seconds.
 */
describe('web console (FreshBooks OAuth, failed deliveries)', () => {
  let stack: Stack;
  let browser: Browser;
  let origin: string;
  const pages: Page[] = [];
  const newPage = async () => {
    const page = await browser.newPage();
    pages.push(page);
    return page;
  };

  beforeAll(async () => {
    ensureConsoleBuilt();
    stack = await startStack({ env: { DELIVERY_MAX_ATTEMPTS: '2', DELIVERY_FIRST_RETRY_SECONDS: '1' } });
    origin = consoleOrigin(stack);
    // The console's return page, registered with the FreshBooks app as a redirect URI.
    stack.freshbooks.addRedirectUri(`${origin}/oauth/return`);
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

  test('FreshBooks: Connect → the consent page → back with a code → the instance exists with 18 callbacks verified, shown on its page', async () => {
    const { freshbooks, sink } = stack;
    const page = await newPage();
    await signIn(page, origin);
    await page.getByRole('main').getByRole('link', { name: 'New instance' }).click();
    await page.getByLabel('Element').selectOption({ label: 'FreshBooks' });
    // The redirect URI is the console's own return page, filled in and read-only.
    const redirect = page.getByLabel('Redirect URI');
    expect(await redirect.inputValue()).toBe(`${origin}/oauth/return`);
    expect(await redirect.getAttribute('readonly')).not.toBeNull();
    await page.getByLabel('Name', { exact: true }).fill('Console FreshBooks');
    await page.getByLabel('Client ID').fill(FRESHBOOKS_CLIENT.clientId);
    await page.getByLabel('Client secret').fill(FRESHBOOKS_CLIENT.clientSecret);
    await page.getByLabel('Business name').fill('MyBiz');
    await page.getByLabel('Callback URL').fill(sink.url);
    // The default objects are checked: six, each watched for create, update and delete.
    const objects = page.getByRole('group', { name: 'Objects to watch' });
    expect(await objects.getByRole('checkbox', { checked: true }).count()).toBe(6);
    expect(await objects.getByRole('checkbox').count()).toBeGreaterThan(6);
    await screenshot(page, 'create-freshbooks');

    await page.getByRole('button', { name: 'Connect FreshBooks' }).click();
    await page.getByRole('heading', { level: 1, name: 'Console FreshBooks' }).waitFor({ timeout: 60_000 });
    // The browser went through the fake's consent page with the console's return page and a state.
    expect(freshbooks.authorizations).toEqual([
      expect.objectContaining({ clientId: FRESHBOOKS_CLIENT.clientId, redirectUri: `${origin}/oauth/return`, status: 302 }),
    ]);
    expect(freshbooks.authorizations[0]!.state).toMatch(/^[0-9a-f]{36}$/);
    // The code and state are gone from the address bar; the pending form is gone from session storage.
    expect(page.url()).toMatch(new RegExp(`^${origin}/instances/\\d+$`));
    expect(await page.evaluate('Object.keys(sessionStorage).filter((k) => k.startsWith("element-events.oauth."))')).toEqual([]);
    const id = Number(/\/instances\/(\d+)$/.exec(page.url())![1]);

    await until(
      async () => (await factValue(page, 'Callbacks')) === '18 wanted, 18 registered, 18 verified',
      '18 verified callbacks on the page',
      60_000,
    );
    const view = await call(stack, 'GET', `/instances/${id}`);
    expect(view.body.status.callbacks).toEqual({ wanted: 18, registered: 18, verified: 18 });
    expect(view.body.configuration['oauth.callback.url']).toBe(`${origin}/oauth/return`);
    expect(freshbooks.callbacks().filter((c) => c.verified)).toHaveLength(18);
    expect(await factValue(page, 'Tokens expire')).not.toBe('—');
    await screenshot(page, 'instance-freshbooks');

    // A webhook shows as the instance's last activity in the list.
    await freshbooks.sendWebhook('invoice.create', 4242);
    await sink.waitFor(() => sink.acceptedEvents().some((e) => e.objectId === '4242'), 30_000, 'the invoice notification');
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Instances' }).click();
    const row = page.getByRole('row', { name: /Console FreshBooks/ });
    const cells = row.getByRole('cell');
    // Its last webhook comes from the instance itself (a query); on a loaded machine one may miss the list's deadline.
    await until(
      async () => {
        await row.waitFor();
        if (/^webhook /.test(await cells.nth(2).innerText())) return true;
        await page.reload();
        return false;
      },
      'the last webhook in the list',
      60_000,
    );
    expect(await cells.nth(0).innerText()).toBe('FreshBooks');

    // A return with a state this tab never started creates nothing.
    const before = (await call(stack, 'GET', '/instances')).body.length;
    await page.goto(`${origin}/oauth/return?code=forged&state=not-ours`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toContain('does not match a connection started in this browser tab');
    expect((await call(stack, 'GET', '/instances')).body.length).toBe(before);
    await screenshot(page, 'oauth-return-unknown-state');
    report('console oauth', { authorizations: freshbooks.authorizations.length, verified: view.body.status.callbacks.verified });
    await call(stack, 'DELETE', `/instances/${id}`);
  });

  test('a failing callback: notifications show as failed with their attempts; fix the URL on the page, Redeliver one, then all failed → delivered', async () => {
    const { insightly, sink } = stack;
    // The sink answers 404 on any path but /callback.
    const broken = sink.url.replace(/\/callback$/, '/broken');
    const { id } = await createInstance(stack, {
      ...insightlySeedBody({ callbackUrl: broken, refreshInterval: '0.02' }),
      name: 'Failing callback',
    });
    const failedCount = async () => (await call(stack, 'GET', `/instances/${id}/events?status=failed`)).body.events.length;
    await until(async () => (await call(stack, 'GET', `/instances/${id}`)).body.status.polls >= 1, 'the first poll');
    // Two changes in two polls: two notifications, each failing both its attempts.
    const grace = insightly.create('Contacts', { FIRST_NAME: 'Grace' });
    await until(async () => (await failedCount()) === 1, 'the first notification failed');
    const alan = insightly.create('Contacts', { FIRST_NAME: 'Alan' });
    await until(async () => (await failedCount()) === 2, 'the second notification failed');

    const page = await newPage();
    await signIn(page, origin);
    // The list counts the failed deliveries.
    const listRow = page.getByRole('row', { name: /Failing callback/ });
    await listRow.waitFor();
    expect(await listRow.getByRole('cell').nth(3).innerText()).toBe('2');
    await listRow.getByRole('link', { name: 'Failing callback' }).click();
    await page.getByRole('heading', { level: 1, name: 'Failing callback' }).waitFor();

    const failed = notificationRow(page, 'failed');
    await until(async () => (await failed.count()) === 2, 'two failed notifications in the log', 60_000);
    const newest = failed.first();
    const newestId = (await newest.getByRole('rowheader').innerText()).trim();
    await newest.getByRole('button', { name: `Attempts of ${newestId}` }).click();
    const attempts = page.getByRole('table', { name: `Attempts of ${newestId}` });
    await attempts.waitFor();
    const attemptRows = attempts.getByRole('row');
    await until(async () => (await attemptRows.count()) === 3, 'two attempts listed (and the header)', 30_000);
    for (const n of [1, 2]) {
      const text = await attemptRows.nth(n).innerText();
      expect(text).toContain(broken);
      expect(text).toContain('404');
    }
    await screenshot(page, 'notification-failed');

    // The status filter shows them under failed, and nothing under delivered.
    await page.getByLabel('Filter by status').selectOption('delivered');
    await page.getByText('No delivered notifications.').waitFor();
    await page.getByLabel('Filter by status').selectOption('failed');
    await until(async () => (await failed.count()) === 2, 'two failed notifications under failed', 30_000);

    // Fix the callback URL from the page, then redeliver the newest: the new URL gets it.
    await page.getByRole('textbox', { name: 'Callback URL' }).fill(sink.url);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Changes saved.').waitFor();
    expect((await call(stack, 'GET', `/instances/${id}`)).body.configuration['event.notification.callback.url']).toBe(sink.url);
    await page.getByRole('button', { name: `Redeliver ${newestId}` }).click();
    await page.getByText(`Notification ${newestId} is being delivered again.`).waitFor();
    await page.getByLabel('Filter by status').selectOption('');
    const delivered = notificationRow(page, 'delivered');
    await until(async () => (await delivered.count()) === 1 && (await failed.count()) === 1, 'one delivered, one still failed', 60_000);
    await until(async () => (await attemptRows.count()) === 4, 'the third attempt listed', 30_000);
    const third = await attemptRows.nth(3).innerText();
    expect(third).toContain(sink.url);
    expect(third).toContain('answered 200');
    await screenshot(page, 'notification-redelivered');

    // The rest at once.
    await page.getByRole('button', { name: 'Redeliver all failed' }).click();
    await page.getByText('1 failed notification is being delivered again.').waitFor();
    await until(async () => (await delivered.count()) === 2 && (await failed.count()) === 0, 'both delivered', 60_000);
    for (const contact of [grace, alan])
      expect(sink.acceptedEvents().filter((e) => e.objectId === String(contact.CONTACT_ID))).toHaveLength(1);
    report('console redelivery', { failed: 2, 'redelivered one': 1, 'redelivered all failed': 1, delivered: await delivered.count() });
    await call(stack, 'DELETE', `/instances/${id}`);
  });
});
