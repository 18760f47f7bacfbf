import { temporal } from '@temporalio/proto';
import { decodeHistory, webhookBatches } from './history-payloads';
import { createInstance, freshbooksSeedBody, report, startStack, until, waitForVerified, type Stack } from './harness';

jest.setTimeout(240_000);

/** Objects delivered, and how many of them under more than one eventId (a notification's eventId may carry several). */
function onceEach(events: { objectId: string; eventId: string }[]): { delivered: number; twice: number } {
  const eventIdsPerObject = new Map<string, Set<string>>();
  for (const e of events) eventIdsPerObject.set(e.objectId, (eventIdsPerObject.get(e.objectId) ?? new Set()).add(e.eventId));
  return { delivered: eventIdsPerObject.size, twice: [...eventIdsPerObject.values()].filter((ids) => ids.size > 1).length };
}

const CALLBACKS = 18;
const MAX_HISTORY_EVENTS = 100;
const WEBHOOKS = 1500;
/** Webhooks in flight at once: enough that more arrive during every hand-off, so the pending list never empties. */
const IN_FLIGHT = 12;

/**
 * A steady flood of webhooks at one instance: its run continues as new when its history is full even
 * though webhooks are still pending (they ride along), so its history stays bounded while the flood
 * lasts, and every webhook arrives once. The webhooks come as updates, so the flood does not make its
 * continue-as-news fail.
 */
describe('an instance under a webhook flood', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { INSTANCE_MAX_HISTORY_EVENTS: String(MAX_HISTORY_EVENTS) } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('continues as new while webhooks keep coming; each run stays near its bound; every webhook delivered once', async () => {
    const { freshbooks, sink, client } = stack;
    const created = await createInstance(stack, freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url }));
    const callbacks = () => freshbooks.callbacks().filter((c) => c.uri.endsWith(`/events/freshbooksv2/${created.id}`));
    await sink.waitFor(() => callbacks().filter((c) => c.verified).length === CALLBACKS, 60_000, 'verified callbacks');
    const uri = callbacks()[0]!.uri;
    await waitForVerified(stack, created.id, CALLBACKS);

    const objectIds = Array.from({ length: WEBHOOKS }, (_, i) => String(700_000 + i));
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < objectIds.length) statuses.push(...(await freshbooks.sendWebhook('invoice.update', objectIds[next++]!, {}, { uri })));
      }),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);

    const wanted = new Set(objectIds);
    const ours = () => sink.acceptedEvents().filter((e) => wanted.has(e.objectId));
    await sink.waitFor(() => new Set(ours().map((e) => e.objectId)).size === WEBHOOKS, 120_000, 'every webhook');

    const { executions } = await client.workflowService.listWorkflowExecutions({
      namespace: 'default',
      query: `WorkflowId = 'instance-${created.id}'`,
    });
    const lengths = executions.map((e) => Number(e.historyLength));
    // Each run's webhook batches (update or signal) and its tasks failed by an event that came as it completed.
    let raced = 0;
    const batches = [];
    for (const e of executions) {
      const history = await client.workflow.getHandle(e.execution!.workflowId!, e.execution!.runId!).fetchHistory();
      raced += (history.events ?? []).filter(
        (ev) =>
          ev.workflowTaskFailedEventAttributes?.cause ===
          temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
      ).length;
      batches.push(...webhookBatches(await decodeHistory(history, client.options.loadedDataConverter.payloadCodecs)));
    }
    // Delivered once each: one eventId per webhook (a post repeated under the same eventId would still be one).
    const { delivered, twice } = onceEach(ours());
    report('webhook flood', {
      webhooks: WEBHOOKS,
      accepted: statuses.length,
      delivered,
      underTwoEventIds: twice,
      runs: executions.length,
      bound: MAX_HISTORY_EVENTS,
      longestRun: Math.max(...lengths),
      'batches as updates': batches.filter((b) => b.via === 'update').length,
      'batches as signals': batches.filter((b) => b.via === 'signal').length,
      'continue-as-news raced': raced,
    });
    expect(twice).toBe(0);
    expect(executions.length).toBeGreaterThanOrEqual(3);
    // Webhooks come as updates, which the server moves to the next run: a continue-as-new is raced only by
    // the rarer signals (outcome reports, a batch whose update was not answered in time). As signals, 4 of 6
    // runs were raced here, and each raced run is replayed whole.
    expect(batches.filter((b) => b.via === 'update').length).toBeGreaterThan(batches.length / 2);
    expect(raced).toBeLessThanOrEqual(executions.length / 4);
    // A run ends once the hand-off in progress is done: the bound, plus what arrived meanwhile (an update is 5 events
    // with its task; 173 and 248 seen) and the tasks a raced continue-as-new adds; 574 when the run waited for the
    // flood to pause.
    expect(Math.max(...lengths)).toBeLessThan(MAX_HISTORY_EVENTS * 4);
  });
});

const MAX_WEBHOOK_UPDATES = 5;

/**
 * Temporal refuses updates past 2,000 a run, so a run continues as new after a bound of webhook updates
 * (1,500; lowered here), whatever its history's size.
 */
describe('an instance taking many webhook updates', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { INSTANCE_MAX_WEBHOOK_UPDATES: String(MAX_WEBHOOK_UPDATES) } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('continues as new after its bound of updates; every webhook delivered once', async () => {
    const { freshbooks, sink, client } = stack;
    const created = await createInstance(stack, freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url }));
    await waitForVerified(stack, created.id, CALLBACKS);
    const uri = freshbooks.callbacks().find((c) => c.uri.endsWith(`/events/freshbooksv2/${created.id}`))!.uri;
    const runs = async () => (await client.workflow.count(`WorkflowId = 'instance-${created.id}'`)).count;
    // Rounds of the bound, one webhook at a time (each an update of its own); after each round the run
    // continues as new once its loop is free. A webhook past the bound while the loop is busy would go as a
    // signal instead, so waiting for the new run keeps every round's webhooks updates.
    const ROUNDS = 4;
    const objectIds = Array.from({ length: ROUNDS * MAX_WEBHOOK_UPDATES }, (_, i) => String(760_000 + i));
    const statuses: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const before = await runs();
      for (const id of objectIds.slice(round * MAX_WEBHOOK_UPDATES, (round + 1) * MAX_WEBHOOK_UPDATES))
        statuses.push(...(await freshbooks.sendWebhook('invoice.update', id, {}, { uri })));
      await until(async () => (await runs()) > before, `the run after round ${round + 1}`, 30_000);
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const wanted = new Set(objectIds);
    const ours = () => sink.acceptedEvents().filter((e) => wanted.has(e.objectId));
    await sink.waitFor(() => new Set(ours().map((e) => e.objectId)).size === objectIds.length, 60_000, 'every webhook');

    const updatesPerRun: number[] = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = 'instance-${created.id}'` })) {
      const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      updatesPerRun.push((history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length);
    }
    // Delivered once each: one eventId per webhook (a notification's eventId may carry several).
    const { delivered, twice } = onceEach(ours());
    report('webhook updates bound', {
      webhooks: objectIds.length,
      delivered,
      underTwoEventIds: twice,
      runs: updatesPerRun.length,
      bound: MAX_WEBHOOK_UPDATES,
      mostUpdatesInARun: Math.max(...updatesPerRun),
      updates: updatesPerRun.reduce((a, b) => a + b, 0),
    });
    expect(twice).toBe(0);
    // Every round's webhooks came as updates, and no run took more than the bound.
    expect(updatesPerRun.reduce((a, b) => a + b, 0)).toBe(objectIds.length);
    expect(updatesPerRun.length).toBeGreaterThanOrEqual(ROUNDS + 1);
    expect(Math.max(...updatesPerRun)).toBeLessThanOrEqual(MAX_WEBHOOK_UPDATES);
  });
});
