import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { openApiDocument } from '../../src/api/openapi/document';
import { elements } from '../../src/elements';
import { launchBrowser, type Browser } from './browser';
import { startStack, type Stack } from './harness';

jest.setTimeout(120_000);

const OUTPUT = path.resolve(__dirname, '..', '..', 'test-output', 'docs');
/**
 * A host name that is not loopback, resolved to the test's server: there Chromium applies a CSP's
 * upgrade-insecure-requests (it spares only localhost and loopback addresses), as it would for a LAN
 * address or a container name serving plain http.
 */
const OTHER_HOST = 'docs.example';

const operations = Object.values(openApiDocument(elements).paths).flatMap((ops) => Object.values(ops) as { summary: string }[]);

describe('the API reference page at /docs, in Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  beforeAll(async () => {
    // The API as `npm start` serves it; the page needs no worker.
    stack = await startStack({ worker: 'none' });
    mkdirSync(OUTPUT, { recursive: true });
    browser = await launchBrowser([`--host-resolver-rules=MAP ${OTHER_HOST} 127.0.0.1`]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  /** Opens the page, noting every request it makes and every error it logs (a CSP refusal is one). */
  async function open(url: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
    const page = await browser.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('requestfailed', (r) => errors.push(`${r.url()}: ${r.failure()?.errorText}`));
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (m) => {
      // Over plain http on a non-loopback host Chromium notes that it ignores COOP and origin-keying: expected there.
      if (m.type() === 'error' && !/Cross-Origin-Opener-Policy header has been ignored/.test(m.text())) errors.push(m.text());
    });
    await page.goto(url);
    return { page, requests, errors };
  }

  const summary = (page: Page, text: string) => page.locator('.opblock-summary-description', { hasText: text }).first();

  test('lists every operation of the document, loading nothing from elsewhere', async () => {
    const origin = new URL(stack.api).origin;
    const { page, requests, errors } = await open(`${origin}/docs`);
    for (const { summary: text } of operations) await summary(page, text).waitFor({ state: 'visible' });
    const shown = await page.locator('.opblock').count();
    process.stdout.write(`docs page: ${shown} operations shown of ${operations.length} documented; ${requests.length} requests\n`);
    expect(shown).toBe(operations.length);
    expect(await page.locator('.opblock-summary-method').allInnerTexts()).toEqual(
      expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']),
    );
    expect(requests.filter((r) => !r.startsWith(`${origin}/`))).toEqual([]);
    expect(requests).toContain(`${origin}/elements/api-v2/openapi.json`);
    expect(errors).toEqual([]);
    await page.screenshot({ path: path.join(OUTPUT, 'reference.png'), fullPage: true });

    // An operation opens with its README example and its security.
    await summary(page, 'Create an instance').click();
    const create = page.locator('.opblock.is-open');
    await create.getByText('API Instance with Polling').first().waitFor({ state: 'visible' });
    await create.getByText('Idempotency-Key').first().waitFor({ state: 'visible' });
    expect(await create.locator('.opblock-summary-path').innerText()).toContain('/instances');
    await create.screenshot({ path: path.join(OUTPUT, 'create-instance.png') });
    await page.close();
  });

  test('renders over plain http from a host name that is not loopback', async () => {
    const origin = `http://${OTHER_HOST}:${new URL(stack.api).port}`;
    const { page, requests, errors } = await open(`${origin}/docs`);
    await summary(page, 'Create an instance').waitFor({ state: 'visible' });
    expect(await page.locator('.opblock').count()).toBe(operations.length);
    // The page's own files came over http, as served: nothing was upgraded to https.
    expect(requests.filter((r) => !r.startsWith(`${origin}/`))).toEqual([]);
    expect(errors).toEqual([]);
    await page.screenshot({ path: path.join(OUTPUT, 'reference-other-host.png') });
    await page.close();
  });
});
