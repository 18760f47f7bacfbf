/**
 * Records the histories that test/integration/replay.test.ts replays: an Insightly instance (polls,
 * a PATCH, DELETE), a FreshBooks instance (registration, a lost verification asked for again,
 * webhooks, DELETE), deliveries (a batch, a notification it moved on to be retried, an ordered batch
 * retrying its head, and the lane of the ordered instance) and a cleanup (the callbacks of a FreshBooks instance
 * whose workflow was terminated, removed on DELETE) and a run of a FreshBooks instance that continued as new
 * under a webhook flood: every workflow type of src/workflows/index.ts.
 * Run it when workflows change on purpose and the change is released:
 * `npx tsx test/replay/record-histories.ts <label>`; `--only cleanup-terminated,...` writes only those
 * (to add a type the earlier recordings lacked). Histories recorded before a change must keep
 * replaying after it (use patched() where they would not).
 * The stack encrypts payloads with the keys derived from the harness's TEST_SECRETS_KEY, which the
 * replay test holds too; histories recorded before encryption hold plain payloads and still replay.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { resolveTemporalTool, TEMPORAL_CLI } from '../../src/temporal/cli';
import { startDevServerOnFreePorts } from '../../src/temporal/dev-server';
import { findRecord } from '../../src/api/delivery-records';
import { cleanupWorkflowId, deliveryWorkflowId, instanceWorkflowId, orderedLaneWorkflowId } from '../../src/workflows/ids';
import { call, createInstance, freshbooksSeedBody, insightlySeedBody, sleep, startStack, waitForVerified } from '../integration/harness';

async function main() {
  const args = process.argv.slice(2);
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? new Set(args.splice(onlyAt, 2)[1]?.split(',')) : undefined;
  const label = args[0] ?? new Date().toISOString().slice(0, 10);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'record-histories-'));
  const server = await startDevServerOnFreePorts({ headless: true, dataDir: dir, namespace: 'default' });
  process.env.TEST_TEMPORAL_ADDRESS = server.address;
  const stack = await startStack({ env: { VERIFICATION_RESEND_SECONDS: '2', DELIVERY_FIRST_RETRY_SECONDS: '0.5', LOG_LEVEL: 'error' } });
  try {
    const { sink, insightly, freshbooks } = stack;
    const polling = await createInstance(stack, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: '0.02', signatureKey: 'k' }));
    await sleep(1100);
    sink.answerNext(500); // the first notification is retried once
    const contact = insightly.create('Contacts', { FIRST_NAME: 'Replay' });
    await sink.waitFor(() => sink.acceptedEvents().some((e) => e.objectId === String(contact.CONTACT_ID)), 30_000, 'the contact');
    await call(stack, 'PATCH', `/instances/${polling.id}`, { json: { configuration: { 'event.objects': 'contacts,accounts' } } });
    await sleep(2500);

    freshbooks.loseVerificationPosts = 1;
    const webhooks = await createInstance(stack, freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url }));
    await waitForVerified(stack, webhooks.id, 18);
    await freshbooks.sendWebhook('invoice.create', 9001);
    await freshbooks.sendWebhook('client.update', 9002);
    await sink.waitFor(() => sink.acceptedEvents().some((e) => e.objectId === '9002'), 30_000, 'the webhooks');

    // Ordered: its webhooks' batches take their turns in the instance's lane.
    const orderedBody = freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url });
    orderedBody.configuration['event.notification.ordered'] = true;
    const ordered = await createInstance(stack, orderedBody);
    await waitForVerified(stack, ordered.id, 18);
    const orderedUri = freshbooks.callbacks().find((c) => c.uri.endsWith(`/events/freshbooksv2/${ordered.id}`))!.uri;
    sink.answerNext(500); // the head is retried in its batch
    await freshbooks.sendWebhook('invoice.create', 9101, {}, { uri: orderedUri });
    await freshbooks.sendWebhook('invoice.update', 9101, {}, { uri: orderedUri });
    await sink.waitFor(() => sink.acceptedEvents().filter((e) => e.objectId === '9101').length >= 2, 30_000, 'the ordered webhooks');
    const orderedHead = sink.received.find((r) => r.body.message.events[0]?.objectId === '9101')!.body.message.eventId as string;
    const orderedBatch = await findRecord({ client: stack.client, namespace: 'default' }, orderedHead);
    if (!orderedBatch?.batched) throw new Error('the ordered head was not delivered by its batch');

    for (const id of [polling.id, webhooks.id, ordered.id]) await call(stack, 'DELETE', `/instances/${id}`);

    // An instance ended by an operator: its DELETE runs a cleanup workflow that removes its callbacks.
    const ended = await createInstance(stack, freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url }));
    await waitForVerified(stack, ended.id, 18);
    await stack.client.workflow.getHandle(instanceWorkflowId(ended.id)).terminate('recording a cleanup');
    const deleted = await call(stack, 'DELETE', `/instances/${ended.id}`);
    if (deleted.status !== 200) throw new Error(`DELETE of the terminated instance answered ${deleted.status}`);
    // The retried notification has a workflow of its own; the webhooks' were delivered by their batch.
    const retried = deliveryWorkflowId(sink.accepted()[0]!.body.message.eventId as string);
    const lastEventId = sink.accepted()[sink.accepted().length - 1]!.body.message.eventId as string;
    const batch = await findRecord({ client: stack.client, namespace: 'default' }, lastEventId);
    if (!batch?.batched) throw new Error('the last webhook notification was not delivered by a batch');
    const flood = await recordFlood();
    const chosen: Record<string, string | { workflowId: string; runId: string }> = {
      'insightly-instance': `instance-${polling.id}`,
      'freshbooks-instance': `instance-${webhooks.id}`,
      'delivery-retried': retried,
      'delivery-batch': batch.handle.workflowId,
      'delivery-batch-ordered': orderedBatch.handle.workflowId,
      'delivery-lane': orderedLaneWorkflowId(ordered.id),
      'cleanup-terminated': cleanupWorkflowId(ended.id),
      'freshbooks-flood': flood,
    };
    const out = path.resolve(__dirname, '..', 'fixtures', 'histories');
    const cli = resolveTemporalTool(TEMPORAL_CLI);
    for (const [name, which] of Object.entries(chosen)) {
      if (only && !only.has(name)) continue;
      const { workflowId, runId } = typeof which === 'string' ? { workflowId: which, runId: undefined } : which;
      // The CLI writes the JSON form SDKs replay (this SDK's own historyToJSON trips over two protobufjs copies).
      const json = execFileSync(cli, [
        'workflow',
        'show',
        '--workflow-id',
        workflowId,
        ...(runId ? ['--run-id', runId] : []),
        '--address',
        server.address,
        '--output',
        'json',
      ]);
      const file = path.join(out, `${label}-${name}.json`);
      writeFileSync(file, json);
      console.log(`${file}: ${(JSON.parse(json.toString()) as { events: unknown[] }).events.length} events`);
    }
  } finally {
    await stack.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A FreshBooks instance flooded with webhooks on a small history bound: a run that continued as new with
 * webhooks still pending, its hand-off cut short (the `continue-as-new-under-flood` patch). On a stack of
 * its own, for the bound.
 */
async function recordFlood(): Promise<{ workflowId: string; runId: string }> {
  const stack = await startStack({ env: { INSTANCE_MAX_HISTORY_EVENTS: '60', LOG_LEVEL: 'error' } });
  try {
    const { freshbooks, sink, client } = stack;
    const created = await createInstance(stack, freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url }));
    await waitForVerified(stack, created.id, 18);
    const uri = freshbooks.callbacks().find((c) => c.uri.endsWith(`/events/freshbooksv2/${created.id}`))!.uri;
    const webhooks = 400;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < webhooks) await freshbooks.sendWebhook('invoice.update', 800_000 + next++, {}, { uri });
      }),
    );
    await sink.waitFor(() => new Set(sink.acceptedEvents().map((e) => e.objectId)).size >= webhooks, 60_000, 'the flood');
    const workflowId = instanceWorkflowId(created.id);
    // Every run records the endpoint-health patch; a run cut short by the flood records a second one.
    for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}' AND ExecutionStatus = 'ContinuedAsNew'` })) {
      const history = await client.workflow.getHandle(workflowId, run.runId).fetchHistory();
      const markers = (history.events ?? []).filter((e) => e.markerRecordedEventAttributes).length;
      if (markers >= 2) return { workflowId, runId: run.runId };
    }
    throw new Error('no run of the flooded instance continued as new with webhooks pending');
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
