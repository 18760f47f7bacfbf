import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { EndpointGate } from '../../src/activities/endpoint-gate';
import { parseEventsSettings } from '../../src/instances/request';
import { sealedSettings } from '../../src/instances/spec';
import type { InstanceSpec } from '../../src/instances/types';
import { findElement } from '../../src/elements';
import { Sealer } from '../../src/secrets/sealer';
import { logger } from '../../src/logger';
import { installTemporalLogger } from '../../src/temporal/logging';
import { registerSearchAttributes } from '../../src/temporal/register-search-attributes';
import { getDeliveryQuery, redeliverUpdate } from '../../src/workflows/messages';
import type { DeliveryInput } from '../../src/workflows/types';
import { instanceWorkflowId } from '../../src/workflows/ids';
import { overlapMsOf } from '../../src/polling/overlap';
import { CallbackSink, withSink } from '../fakes/callback-sink';
import { FakeInsightly, insightlyDate } from '../fakes/insightly';
import { INSIGHTLY_KEY, insightlySeedBody } from './harness';

jest.setTimeout(120_000);

// Long sleeps (a 15-minute refresh interval, a 4-day retry schedule) on the time-skipping test server.
describe('long sleeps, with time skipping', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let gate: EndpointGate | undefined;
  let running: Promise<void>;
  let insightly: FakeInsightly;
  let sink: CallbackSink;
  const taskQueue = `ts-${randomUUID()}`;
  const sealer = new Sealer(Buffer.alloc(32, 1));

  // A server per test: after a test whose deliveries asked their instance for the target, the next
  // one's time skipping did not advance on a shared server.
  beforeEach(async () => {
    // Its worker's logs go through the app's logger (held per test), like every other worker's.
    installTemporalLogger(logger);
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
        endpointGate: (gate = new EndpointGate(env.client)),
        taskQueue,
        urls: { INSIGHTLY_API_URL: insightly.url, FRESHBOOKS_API_URL: 'http://127.0.0.1:1' },
        sealer,
        deliverySchedule: { firstRetrySeconds: 4, maxAttempts: 10 },
        callbackPolicy: { publicOnly: false },
      }),
    });
    running = worker.run();
  });
  afterEach(async () => {
    worker?.shutdown();
    await running;
    // Attempt outcomes reach their instance by a signal up to a second after the attempt (endpoint-gate.ts).
    // One still in flight when the server stops is retried by the SDK's gRPC retry on a timer, and that
    // timer throws once teardown has closed the connection: so every report settles first.
    await gate?.settled();
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
      ...sealedSettings(element, body.configuration, parseEventsSettings(element, body.configuration, 1), sealer, 4242),
    };
    const contact = insightly.create('Contacts', { FIRST_NAME: 'Katherine' }, createdMs + 60_000);
    const handle = await env.client.workflow.start('instanceWorkflow', {
      taskQueue,
      // Its real id: a poll asks its instance (by this id) whether it was deleted before handing anything over.
      workflowId: instanceWorkflowId(4242),
      args: [{ spec }],
    });
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
      // The second window starts where the first ended, 15 minutes after creation, less the overlap it
      // re-reads behind that watermark (the first poll re-reads nothing from before the creation).
      const overlapMs = overlapMsOf(spec.events.resources.contacts!);
      expect(overlapMs).toBe(60_000);
      expect(insightly.searchCalls('Contacts')[1]!.query.updated_after_utc).toBe(insightlyDate(createdMs + 15 * 60_000 - overlapMs));
    } finally {
      await handle.terminate('test over');
    }
  });

  /**
   * An instance whose callback is `callbackUrl` (polling weekly, nothing to find): retries
   * ask their instance where to go, so a delivery needs one. Returns its id and a way to end it.
   */
  async function instanceWithCallback(callbackUrl: string): Promise<{ id: number; end(): Promise<void> }> {
    const element = findElement('insightly')!;
    // Events on with a week's interval: a workflow with no timer at all would have the time-skipping
    // server skip straight to its end.
    const body = insightlySeedBody({ callbackUrl, refreshInterval: 7 * 24 * 60 });
    const id = 100_000 + Math.floor(Math.random() * 1_000_000_000);
    const spec: InstanceSpec = {
      id,
      accountId: 'acct_test',
      tokenHash: 'x',
      name: body.name,
      tags: body.tags,
      elementKey: 'insightly',
      createdDate: new Date(await env.currentTimeMs()).toISOString(),
      ...sealedSettings(element, body.configuration, parseEventsSettings(element, body.configuration, 1), sealer, id),
    };
    const handle = await env.client.workflow.start('instanceWorkflow', { taskQueue, workflowId: instanceWorkflowId(id), args: [{ spec }] });
    return {
      id,
      end: async () => {
        await env.client.workflow.getHandle(handle.workflowId).terminate('test over');
      },
    };
  }

  const delivery = (eventId: string, callbackUrl: string, instanceId: number): DeliveryInput => ({
    eventId,
    instanceId,
    elementKey: 'insightly',
    accountId: 'acct_test',
    callbackUrl,
    body: JSON.stringify({ message: { eventId, events: [{ eventType: 'UPDATED' }] } }),
    events: 1,
    firstRetrySeconds: 4,
    maxAttempts: 10,
  });

  test('a callback that recovers after three failures gets the notification on the fourth attempt', () =>
    withSink(async (sink) => {
      const eventId = randomUUID();
      const instance = await instanceWithCallback(sink.url);
      sink.answerNext(503, 500, 502);
      const handle = await env.client.workflow.start('deliveryWorkflow', {
        taskQueue,
        workflowId: `delivery-${eventId}`,
        args: [delivery(eventId, sink.url, instance.id)],
      });
      // Retries 4, 16 and 64 s apart: skip past them.
      await env.sleep('2 minutes');
      const result = await handle.result();
      await instance.end();
      expect(result).toMatchObject({ status: 'delivered', eventId, httpStatus: 200 });
      expect(sink.received.filter((r) => r.body.message.eventId === eventId).map((r) => r.answered)).toEqual([503, 500, 502, 200]);
    }));

  test('a failing callback is retried on Cloud Elements schedule, marked failed after the 10th attempt, and redelivered on request', () =>
    withSink(async (sink) => {
      const eventId = randomUUID();
      const instance = await instanceWithCallback(sink.url);
      sink.answerNext(...Array(10).fill(500));
      const handle = await env.client.workflow.start('deliveryWorkflow', {
        taskQueue,
        workflowId: `delivery-${eventId}`,
        args: [delivery(eventId, sink.url, instance.id)],
      });
      // The whole schedule is about 4.05 days; skip a little past it.
      await env.sleep('5 days');
      const record = await handle.query(getDeliveryQuery);
      expect(record.status).toBe('failed');
      expect(record.attempts).toHaveLength(10);
      expect(record.attempts.every((a) => a.status === 500 && a.error === 'callback answered 500')).toBe(true);
      // Attempts at the expected times: gaps of 4 s × 4^n (4 s, 16 s, ... the last about 72.8 h).
      const at = record.attempts.map((a) => Date.parse(a.at));
      const gaps = at.slice(1).map((t, n) => (t - at[n]!) / 1000);
      const expected = Array.from({ length: 9 }, (_, n) => 4 * 4 ** n);
      gaps.forEach((gap, n) => {
        expect(gap).toBeGreaterThanOrEqual(expected[n]!);
        expect(gap).toBeLessThan(expected[n]! + 2);
      });
      expect(sink.received.filter((r) => r.body.message.eventId === eventId)).toHaveLength(10);

      // Redelivery sends it once more, now accepted.
      const again = await handle.executeUpdate(redeliverUpdate);
      expect(again.status).toBe('pending');
      const result = await handle.result();
      expect(result).toMatchObject({ status: 'delivered', eventId, httpStatus: 200 });
      const final = await handle.query(getDeliveryQuery);
      expect(final.attempts).toHaveLength(11);
      expect(final.deliveredDate).toEqual(expect.any(String));
      await instance.end();
    }));
});
