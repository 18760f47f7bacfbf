import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import type { Page } from 'playwright-core';
import { logger } from '../../src/logger';
import { installTemporalLogger } from '../../src/temporal/logging';
import { loadPayloadCodec } from '../../src/temporal/payload-codec';
import { startDevServerOnFreePorts, type DevServer } from '../../src/temporal/dev-server';
import { freePort } from '../fakes/http-server';
import { launchBrowser, type Browser } from './browser';
import * as activities from './codec-ui/activities';
import { report, startStack, TEST_SECRETS_KEY, until, type Stack } from './harness';
import { textOf } from './history-payloads';

jest.setTimeout(300_000);

const OPERATOR_TOKEN = 'codec-ui-operator-token-5b2e81';
// A customer record whose values must show in the UI for a signed-in operator and for nobody else.
const CONTACT: activities.Contact = { CONTACT_ID: 271828, FIRST_NAME: 'Grace', EMAIL_ADDRESS: 'grace.ui-codec@example.com' };
const SCREENSHOT_DIR = path.resolve(__dirname, '..', '..', 'test-output', 'codec');

/**
 * The Temporal UI of an embedded dev server started as `npm start` starts it (`--ui-codec-endpoint` at the
 * API's codec server), in Debian's Chromium: an encrypted activity input stays encrypted until the
 * operator signs in on the API; then the UI shows it decoded.
 */
describe('the Temporal UI decodes through the codec server for a signed-in operator only', () => {
  let devServer: DevServer;
  let dataDir: string;
  let stack: Stack;
  let worker: Worker;
  let running: Promise<void>;
  let connection: NativeConnection;
  let browser: Browser;
  let uiUrl: string;
  let codecEndpoint: string;
  let apiOrigin: string;
  /** The UI's page of the activity's scheduled event, which shows its input. */
  let activityEventUrl: string;
  const workflowId = `codec-ui-${randomUUID()}`;
  const taskQueue = `codec-ui-${randomUUID()}`;

  beforeAll(async () => {
    const apiPort = await freePort();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'element-events-codec-ui-'));
    // localhost on both sides: the UI's page and the codec server are one site, so the session cookie
    // (SameSite=Strict) goes along with the UI's credentialed requests.
    apiOrigin = `http://localhost:${apiPort}`;
    codecEndpoint = `${apiOrigin}/codec`;
    devServer = await startDevServerOnFreePorts({ dataDir, namespace: 'default', codecEndpoint });
    if (!devServer.uiUrl) throw new Error('the dev server started without its UI');
    uiUrl = devServer.uiUrl;
    stack = await startStack({
      temporalAddress: devServer.address,
      worker: 'none',
      apiPort,
      env: { OPERATOR_TOKEN, TEMPORAL_UI_URL: uiUrl },
    });

    // A worker and a client that encrypt with the app's payload codec (the keys the API's codec server holds).
    const codec = loadPayloadCodec({ secretsKey: TEST_SECRETS_KEY, dataDir: '.' });
    installTemporalLogger(logger);
    const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./codec-ui/workflows'), logger: silent });
    connection = await NativeConnection.connect({ address: devServer.address });
    worker = await Worker.create({
      connection,
      namespace: 'default',
      taskQueue,
      workflowBundle: { code },
      activities,
      dataConverter: { payloadCodecs: [codec] },
    });
    running = worker.run();
    const client = new Client({ connection: stack.client.connection, namespace: 'default', dataConverter: { payloadCodecs: [codec] } });
    const handle = await client.workflow.start('contactShowcase', { taskQueue, workflowId, args: [CONTACT] });
    await handle.result();
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes);
    if (!scheduled?.eventId) throw new Error(`no activity in the history of ${workflowId}`);
    activityEventUrl = `/namespaces/default/workflows/${workflowId}/${handle.firstExecutionRunId}/history/events/${String(scheduled.eventId)}`;
    // The dev server answers on its frontend first; its UI server comes up beside it.
    await until(async () => (await fetch(uiUrl).catch(() => undefined))?.ok === true, 'the Temporal UI to answer');
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    if (worker) {
      worker.shutdown();
      await running;
    }
    await connection?.close();
    await stack?.stop();
    await devServer?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Opens the workflow's history and the activity's scheduled event, where its input shows. */
  const openActivityInput = async (page: Page) => {
    await page.goto(`${uiUrl}${activityEventUrl}`);
  };

  const shot = async (page: Page, name: string) => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const file = path.join(SCREENSHOT_DIR, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };

  test('encrypted in history; shown decoded in the UI after the operator signs in, and not before', async () => {
    // Read without the codec, the history holds no value of the record.
    const raw = textOf(await stack.client.workflow.getHandle(workflowId).fetchHistory());
    expect(raw).toContain('binary/encrypted');
    for (const value of [CONTACT.EMAIL_ADDRESS, CONTACT.FIRST_NAME]) expect(raw).not.toContain(value);

    const page = await browser.newPage();
    const decodes: number[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(`${codecEndpoint}/decode`)) decodes.push(r.status());
    });

    // The UI's own Codec Server settings: this browser's endpoint, sending credentials (the cookie).
    await page.goto(`${uiUrl}/namespaces/default/workflows`);
    await page.locator('[data-testid^="data-encoder-status"]').first().click();
    await page.getByText(/Use my browser setting/).click();
    await page.getByLabel('Codec Server browser endpoint').fill(codecEndpoint);
    await page.getByText('Include cross-origin credentials').click();
    await page.getByRole('button', { name: 'Apply' }).click();

    // Not signed in: the codec server refuses (401) and the UI shows the payload still encrypted.
    const refused = page.waitForResponse((r) => r.url().startsWith(`${codecEndpoint}/decode`) && r.status() === 401);
    await openActivityInput(page);
    await refused;
    // The UI says its codec server failed, and shows the event with its payload as stored.
    await page.getByTestId('data-encoder-status-error').waitFor();
    await page
      .getByText(/Activity ?Task ?Scheduled/)
      .first()
      .waitFor();
    expect(await page.locator('body').innerText()).not.toContain(CONTACT.EMAIL_ADDRESS);
    const before = await shot(page, 'ui-not-signed-in');

    // The operator signs in on the API's page (same browser, another tab).
    const signIn = await browser.newPage();
    await signIn.goto(`${codecEndpoint}/sign-in`);
    await signIn.getByLabel('Operator token').fill(OPERATOR_TOKEN);
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await signIn.getByRole('heading', { name: 'Signed in as operator' }).waitFor();
    await shot(signIn, 'operator-signed-in');

    const decoded = page.waitForResponse((r) => r.url().startsWith(`${codecEndpoint}/decode`) && r.status() === 200);
    await openActivityInput(page);
    await decoded;
    await page.getByTestId('data-encoder-status-success').waitFor();
    await page.getByText(CONTACT.EMAIL_ADDRESS).first().waitFor();
    const after = await shot(page, 'ui-decoded-activity-input');
    expect(await page.locator('body').innerText()).toContain(CONTACT.EMAIL_ADDRESS);

    report('codec in the Temporal UI', {
      decodeRequests: decodes.length,
      refused401: decodes.filter((s) => s === 401).length,
      decoded200: decodes.filter((s) => s === 200).length,
      screenshots: [before, after].length,
    });
  });
});
