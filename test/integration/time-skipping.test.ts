import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { parseEventsSettings, redactConfiguration } from '../../src/instances/request';
import type { InstanceSpec } from '../../src/instances/types';
import { findElement } from '../../src/elements';
import { Sealer } from '../../src/secrets/sealer';
import { registerSearchAttributes } from '../../src/temporal/register-search-attributes';
import type { DeliveryInput } from '../../src/workflows/types';
import { CallbackSink } from '../fakes/callback-sink';
import { FakeInsightly, insightlyDate } from '../fakes/insightly';
import { INSIGHTLY_KEY, insightlySeedBody } from './harness';

jest.setTimeout(120_000);

// Long sleeps (a 15-minute refresh interval, a 4-day retry schedule) on the time-skipping test server.
describe('long sleeps, with time skipping', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let insightly: FakeInsightly;
  let sink: CallbackSink;
  const taskQueue = `ts-${randomUUID()}`;

  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: process.env.TEMPORAL_TEST_SERVER_BIN! } },
    });
    await registerSearchAttributes(env.connection, 'default');
    insightly = new FakeInsightly(INSIGHTLY_KEY);
    await insightly.start();
    sink = new CallbackSink();
    await sink.start();
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! },
      activities: createActivities({
        client: env.client,
        taskQueue,
        urls: { insightly: insightly.url, freshbooks: 'http://127.0.0.1:1' },
        sealer: new Sealer(Buffer.alloc(32, 1)),
      }),
    });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
    await insightly?.stop();
    await sink?.stop();
  });

  test('an instance with a 15-minute refresh interval polls once per interval, from its creation time', async () => {
    const element = findElement('insightly')!;
    const body = insightlySeedBody({ callbackUrl: sink.url, refreshInterval: 15 });
    const createdMs = Math.floor((await env.currentTimeMs()) / 1000) * 1000;
    const spec: InstanceSpec = {
      id: 4242,
      accountId: 'acct_test',
      tokenHash: 'x',
      name: body.name,
      tags: body.tags,
      elementKey: 'insightly',
      createdDate: new Date(createdMs).toISOString(),
      configuration: body.configuration,
      publicConfiguration: redactConfiguration(element, body.configuration),
      events: parseEventsSettings(element, body.configuration, 1),
    };
    const contact = insightly.create('Contacts', { FIRST_NAME: 'Katherine' }, createdMs + 60_000);
    const handle = await env.client.workflow.start('instanceWorkflow', { taskQueue, workflowId: `instance-ts-${randomUUID()}`, args: [{ spec }] });
    try {

    await env.sleep('14 minutes');
    expect(insightly.calls).toHaveLength(0); // asleep for the interval

    await env.sleep('2 minutes');
    await sink.waitFor(() => sink.acceptedEvents().length >= 1, 30_000, 'the first poll delivering');
    const firstPoll = insightly.searchCalls('Contacts');
    expect(firstPoll).toHaveLength(1);
    expect(firstPoll[0]!.query.updated_after_utc).toBe(insightlyDate(createdMs));
    expect(sink.acceptedEvents()).toEqual([
      expect.objectContaining({ eventType: 'CREATED', objectType: 'contacts', objectId: String(contact.CONTACT_ID) }),
    ]);

    await env.sleep('15 minutes');
    await sink.waitFor(() => insightly.searchCalls('Contacts').length >= 2, 30_000, 'the second poll');
    // The second window starts where the first ended: 15 minutes after creation.
    expect(insightly.searchCalls('Contacts')[1]!.query.updated_after_utc).toBe(insightlyDate(createdMs + 15 * 60_000));
    } finally {
      await handle.terminate('test over');
    }
  });

  // Each delivery test has a callback of its own, so no other traffic takes its planned answers.
  async function withSink(fn: (callback: CallbackSink) => Promise<void>) {
    const callback = new CallbackSink();
    await callback.start();
    try {
      await fn(callback);
    } finally {
      await callback.stop();
    }
  }

  const delivery = (eventId: string, callbackUrl: string): DeliveryInput => ({
    eventId,
    instanceId: 4242,
    elementKey: 'insightly',
    accountId: 'acct_test',
    callbackUrl,
    body: JSON.stringify({ message: { eventId, events: [{ eventType: 'UPDATED' }] } }),
    events: 1,
  });

  test('a failing callback is retried on Cloud Elements schedule and marked failed after the 10th attempt', () =>
    withSink(async (sink) => {
    const eventId = randomUUID();
    sink.answerNext(...Array(10).fill(500));
    const handle = await env.client.workflow.start('deliveryWorkflow', {
      taskQueue,
      workflowId: `delivery-${eventId}`,
      args: [delivery(eventId, sink.url)],
    });
    const result = await handle.result();
    // The schedule as the server ran it: from scheduling the activity to its final failure.
    const history = (await handle.fetchHistory()).events ?? [];
    const at = (e: (typeof history)[number]) => Number(e.eventTime!.seconds) + e.eventTime!.nanos! / 1e9;
    const scheduled = history.find((e) => e.activityTaskScheduledEventAttributes)!;
    const started = history.find((e) => e.activityTaskStartedEventAttributes)!;
    const failed = history.find((e) => e.activityTaskFailedEventAttributes)!;
    const elapsedS = at(failed) - at(scheduled);
    expect(started.activityTaskStartedEventAttributes!.attempt).toBe(10);
    expect(result).toMatchObject({ status: 'failed', eventId, error: 'callback answered 500' });
    const attempts = sink.received.filter((r) => r.body.message.eventId === eventId);
    expect(attempts).toHaveLength(10);
    // Gaps 4 s × 4^n for n = 0..8: about 4.05 days in all, the last one about 73 h.
    const schedule = Array.from({ length: 9 }, (_, n) => 4 * 4 ** n).reduce((a, b) => a + b, 0);
    expect(elapsedS).toBeGreaterThanOrEqual(schedule);
    expect(elapsedS).toBeLessThan(schedule + 600);
    }));

  test('a callback that recovers after three failures gets the notification on the fourth attempt', () =>
    withSink(async (sink) => {
    const eventId = randomUUID();
    sink.answerNext(503, 500, 502);
    const result = await env.client.workflow.execute('deliveryWorkflow', {
      taskQueue,
      workflowId: `delivery-${eventId}`,
      args: [delivery(eventId, sink.url)],
    });
    expect(result).toMatchObject({ status: 'delivered', eventId, httpStatus: 200 });
    expect(sink.received.filter((r) => r.body.message.eventId === eventId).map((r) => r.answered)).toEqual([503, 500, 502, 200]);
    }));
});
