import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { ENCRYPTED_ENCODING } from '../../src/temporal/payload-codec';
import { instanceWorkflowId } from '../../src/workflows/ids';
import {
  closedDelivery,
  createInstance,
  call,
  freshbooksSeedBody,
  insightlySeedBody,
  notificationWorkflowId,
  report,
  sleep,
  startStack,
  waitForVerified,
  type Stack,
} from './harness';
import { decodedHistory, textOf } from './history-payloads';

jest.setTimeout(180_000);

const nonce = randomBytes(6).toString('hex');
// Values found nowhere else: a byte search for them in the server's database can only hit this test's data.
const contact = {
  FIRST_NAME: `Quillon${nonce}`,
  LAST_NAME: `Marrowby${nonce}`,
  EMAIL_ADDRESS: `quillon.${nonce}@example.org`,
  PHONE: `+44 20 7946 ${nonce.slice(0, 4)}`,
};
const freshbooksField = { client_email: `ledger.${nonce}@example.net` };
const signatureKey = `sig-${nonce}-${randomBytes(8).toString('hex')}`;

const encodingOf = (p: Payload) => Buffer.from(p.metadata?.encoding ?? []).toString();

/**
 * The payloads of a raw history, by where they are: search attributes and headers are not the codec's
 * (Temporal indexes the former, the SDK leaves the latter to interceptors), nor the bookkeeping Temporal's
 * core writes into markers beside a local activity's result or a patch (ids, types, times); every
 * other one must be.
 */
function payloadsByPlace(value: unknown, place = 'other', out: { place: string; payload: Payload }[] = []) {
  if (value && typeof value === 'object' && (value as Payload).data instanceof Uint8Array && (value as Payload).metadata) {
    out.push({ place, payload: value as Payload });
  } else if (Array.isArray(value)) {
    for (const v of value) payloadsByPlace(v, place, out);
  } else if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const marker = 'markerName' in value;
    for (const [k, v] of Object.entries(value)) {
      if (k === 'searchAttributes') payloadsByPlace(v, 'search attribute', out);
      else if (k === 'header') payloadsByPlace(v, 'header', out);
      else if (marker && k === 'details') {
        for (const [detail, payloads] of Object.entries(v ?? {}))
          payloadsByPlace(payloads, detail === 'result' ? place : 'marker bookkeeping', out);
      } else payloadsByPlace(v, place, out);
    }
  }
  return out;
}

/** The embedded server's SQLite database and its write-ahead log (recent writes sit there until a checkpoint). */
function databaseFiles(): Buffer[] {
  const db = path.join(process.env.TEST_DATA_DIR!, 'temporal.db');
  return [db, `${db}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f));
}
const inDatabase = (files: Buffer[], needle: string) => files.some((f) => f.includes(Buffer.from(needle, 'utf8')));

describe('encrypted history: records, tokens, callback URLs and keys never in clear in Temporal', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { DELIVERY_FIRST_RETRY_SECONDS: '0.5' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('raw histories and the database file hold none of them; with the codec the same histories decode', async () => {
    const { sink, insightly, freshbooks } = stack;
    const pollingUrl = `${sink.url}?route=polling-${nonce}`;
    const webhookUrl = `${sink.url}?route=webhooks-${nonce}`;

    // One poll delivered, its first attempt refused, so it is retried by a delivery workflow of its own.
    const polling = await createInstance(stack, insightlySeedBody({ callbackUrl: pollingUrl, refreshInterval: '0.02', signatureKey }));
    await sleep(1100);
    sink.answerNext(500);
    const record = insightly.create('Contacts', contact);
    await sink.waitFor(
      () => sink.acceptedEvents().some((e) => e.objectId === String(record.CONTACT_ID)),
      60_000,
      'the contact delivered on retry',
    );
    const contactEventId = sink.accepted().find((r) => r.body.message.events[0]?.objectId === String(record.CONTACT_ID))!.body.message
      .eventId as string;

    // One FreshBooks webhook, delivered at the first attempt by its batch.
    const webhooks = await createInstance(stack, freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: webhookUrl }));
    await waitForVerified(stack, webhooks.id, 18);
    await freshbooks.sendWebhook('client.update', 7001, freshbooksField);
    await sink.waitFor(() => sink.acceptedEvents().some((e) => e.objectId === '7001'), 30_000, 'the webhook delivered');
    const webhookNote = sink.accepted().find((r) => r.body.message.events[0]?.objectId === '7001')!;
    // The record fields really passed through Temporal: the callbacks got them.
    expect(JSON.stringify(sink.accepted().map((r) => r.body))).toContain(contact.EMAIL_ADDRESS);
    expect(webhookNote.rawBody).toContain(freshbooksField.client_email);

    await closedDelivery(stack, contactEventId);
    await closedDelivery(stack, webhookNote.body.message.eventId);
    const retried = await notificationWorkflowId(stack, contactEventId);
    const batch = await notificationWorkflowId(stack, webhookNote.body.message.eventId);
    expect(retried).toMatch(/^delivery-/);
    expect(batch).toMatch(/^deliveries-/);
    const workflowIds = [instanceWorkflowId(polling.id), instanceWorkflowId(webhooks.id), retried, batch];

    const verifiers = freshbooks
      .callbacks()
      .filter((c) => c.uri.endsWith(`/events/freshbooksv2/${webhooks.id}`))
      .map((c) => c.verifier);
    const secrets: Record<string, string[]> = {
      'record field': [contact.FIRST_NAME, contact.LAST_NAME, contact.PHONE, freshbooksField.client_email],
      'e-mail address': [contact.EMAIL_ADDRESS],
      'instance token': [polling.token, webhooks.token],
      'callback URL': [pollingUrl, webhookUrl],
      'signing key': [signatureKey, ...verifiers],
    };
    const needles = Object.values(secrets).flat();

    // A client without the codec: what the Temporal UI, tctl or anyone with access to the server sees.
    const plain = new Client({ connection: stack.client.connection, namespace: stack.config.TEMPORAL_NAMESPACE });
    let payloads = 0;
    let encrypted = 0;
    let searchAttributes = 0;
    let markerBookkeeping = 0;
    const inRawHistories: string[] = [];
    for (const workflowId of workflowIds) {
      const raw = await plain.workflow.getHandle(workflowId).fetchHistory();
      const text = textOf(raw);
      for (const [what, values] of Object.entries(secrets)) {
        for (const v of values) if (text.includes(v)) inRawHistories.push(`${what} in ${workflowId}`);
      }
      for (const { place, payload } of payloadsByPlace(raw)) {
        payloads++;
        if (place === 'search attribute') searchAttributes++;
        else if (place === 'marker bookkeeping') markerBookkeeping++;
        else if (place !== 'header') {
          expect({ workflowId, place, encoding: encodingOf(payload) }).toEqual({ workflowId, place, encoding: ENCRYPTED_ENCODING });
          encrypted++;
        }
      }
      // Memos too (visibility shows them beside the search attributes).
      const described = await plain.workflowService.describeWorkflowExecution({
        namespace: stack.config.TEMPORAL_NAMESPACE,
        execution: { workflowId },
      });
      for (const memo of Object.values(described.workflowExecutionInfo?.memo?.fields ?? {}))
        expect(encodingOf(memo)).toBe(ENCRYPTED_ENCODING);
    }
    expect(inRawHistories).toEqual([]);
    expect(encrypted).toBeGreaterThan(20);

    // With the codec, the same histories decode: the e-mail address is there (so the searches above could have found it).
    const decoded = (await Promise.all(workflowIds.map((id) => decodedHistory(stack.client, id)))).map((h) => textOf(h)).join('\n');
    for (const value of [...secrets['record field']!, contact.EMAIL_ADDRESS, pollingUrl, webhookUrl]) expect(decoded).toContain(value);

    // The database file: a byte search, which does find a payload written without the codec.
    const canary = `canary-${nonce}-plain`;
    const canaryHandle = await plain.workflow.start('instanceWorkflow', {
      taskQueue: `canary-${nonce}`,
      workflowId: `canary-${nonce}`,
      args: [{ canary }],
    });
    await canaryHandle.terminate('a canary for the database search');
    const files = databaseFiles();
    const canaryFound = inDatabase(files, canary);
    expect(canaryFound).toBe(true);
    const found = Object.entries(secrets).flatMap(([what, values]) => values.filter((v) => inDatabase(files, v)).map(() => what));
    expect(found).toEqual([]);

    report('encrypted history', {
      workflows: workflowIds.length,
      payloads,
      encrypted,
      'search attributes (clear)': searchAttributes,
      'marker bookkeeping (clear)': markerBookkeeping,
      'secret values searched': needles.length,
      'found in raw histories': inRawHistories.length,
      'database bytes searched': files.reduce((n, f) => n + f.length, 0),
      'found in database': found.length,
      'canary found': Number(canaryFound),
    });
    for (const id of [polling.id, webhooks.id]) expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });
});
