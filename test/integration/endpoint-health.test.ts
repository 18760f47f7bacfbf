import { CallbackSink, type Received } from '../fakes/callback-sink';
import { Worker } from '@temporalio/worker';
import { MAX_EVENTS_POLLING } from '../../src/events/notification';
import { deliveryWorkflowId, instanceWorkflowId } from '../../src/workflows/ids';
import { dataConverterFor } from '../../src/temporal/data-converter';
import { call, createInstance, insightlySeedBody, report, sleep, startStack, until, type Stack } from './harness';

jest.setTimeout(180_000);

// Endpoint health (issue 13): a callback that fails for long enough across enough notifications has
// its circuit opened, and then gets one probe per probe interval; once a probe is accepted the backlog
// drains at no more than maxRate. Short thresholds: open after 2 s of only failures (across at least 5
// notifications), one probe every 3 s (not doubling), retries 0.5 s × 4^n.
const PROBE_SECONDS = 3;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: {
      DELIVERY_FIRST_RETRY_SECONDS: '0.5',
      ENDPOINT_OPEN_AFTER_SECONDS: '2',
      ENDPOINT_PROBE_SECONDS: String(PROBE_SECONDS),
      ENDPOINT_MAX_PROBE_SECONDS: String(PROBE_SECONDS),
    },
  });
});
afterAll(() => stack?.stop());

/** A polling instance whose callback is `callbackUrl`; it polls every 1.2 s. */
async function pollingInstance(callbackUrl: string, maxRate?: number): Promise<number> {
  const body = insightlySeedBody({ callbackUrl, refreshInterval: '0.02' });
  if (maxRate !== undefined) (body.configuration as Record<string, unknown>)['event.notification.maxRate'] = maxRate;
  const { id } = await createInstance(stack, body);
  // Watching starts at the instance's creation, to the second.
  await sleep(1100);
  return id;
}

/** `notifications` notifications of 10 changed contacts each, found by one poll and handed to delivery at once. */
function changes(notifications: number, name: string): string[] {
  return Array.from({ length: notifications * MAX_EVENTS_POLLING }, (_, i) =>
    String(stack.insightly.create('Contacts', { FIRST_NAME: `${name} ${i}` }).CONTACT_ID),
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const endpointOf = async (id: number): Promise<any> => (await call(stack, 'GET', `/instances/${id}`)).body.status.endpoint;

/** Replays a workflow's history on the current code: its endpoint signals, probe updates and timers are deterministic. */
async function replays(on: Stack, workflowId: string): Promise<void> {
  const history = await on.client.workflow.getHandle(workflowId).fetchHistory();
  await Worker.runReplayHistory(
    { workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! }, dataConverter: dataConverterFor(on.config), replayName: workflowId },
    history,
  );
}

/** The most requests that arrived within any one second (a window starting at each request). */
function mostInOneSecond(received: readonly Received[]): number {
  const at = received.map((r) => r.at).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[j]! < at[i]! - 999) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** Accepted requests per eventId. */
function acceptedPerEvent(sink: CallbackSink): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of sink.accepted()) counts.set(r.body.message.eventId, (counts.get(r.body.message.eventId) ?? 0) + 1);
  return counts;
}

test('a dead endpoint: once the circuit opens it gets at most one probe per probe interval, and GET shows open', async () => {
  const sink = new CallbackSink();
  await sink.start();
  try {
    sink.down = 500;
    const id = await pollingInstance(sink.url);
    expect((await endpointOf(id)).state).toBe('healthy');
    changes(12, 'Dead');
    await until(
      async () => (await endpointOf(id))?.state === 'open',
      'the circuit opening',
      60_000,
      async () => JSON.stringify(await endpointOf(id)),
    );
    const seenOpenMs = Date.now();
    const opened = await endpointOf(id);
    const openedAtMs = Date.parse(opened.openedAt);
    const before = sink.received.filter((r) => r.at <= openedAtMs);
    // Without the gate, every notification's next retry (about 10 s after the first attempt) would post.
    await sleep(15_000);
    // Workers read the state at most once a second (README, endpoint health): from a second after the
    // open state could be read, the gate holds everything but the probes. Before that a busy machine's
    // retries may still go (counted apart).
    const gatedFromMs = Math.max(openedAtMs, seenOpenMs) + 1000;
    const elapsedMs = Date.now() - gatedFromMs;
    const after = sink.received.filter((r) => r.at > gatedFromMs);
    const allowed = Math.floor(elapsedMs / (PROBE_SECONDS * 1000)) + 1;
    const view = await endpointOf(id);
    report('dead endpoint', {
      notifications: 12,
      'attempts before open': before.length,
      'distinct notifications failed before open': new Set(before.map((r) => r.body.message.eventId)).size,
      'attempts while workers learned of it': sink.received.filter((r) => r.at > openedAtMs && r.at <= gatedFromMs).length,
      'seconds observed after open': Math.round(elapsedMs / 1000),
      'attempts after open (probes)': after.length,
      'allowed (elapsed / probe interval + 1)': allowed,
      accepted: sink.accepted().length,
    });
    expect(new Set(before.map((r) => r.body.message.eventId)).size).toBeGreaterThanOrEqual(5);
    expect(after.length).toBeLessThanOrEqual(allowed);
    // It does probe: the retries that fell due while it was open were held, and one went as the probe.
    expect(after.length).toBeGreaterThanOrEqual(1);
    expect(view).toMatchObject({ state: 'open', failures: expect.any(Number), nextProbeAt: expect.any(String) });
    expect(view.failedEventIds).toHaveLength(5);
    expect(sink.accepted()).toHaveLength(0);
    await call(stack, 'DELETE', `/instances/${id}`);
  } finally {
    await sink.stop();
  }
});

test('the endpoint recovers: the backlog arrives at no more than maxRate, each notification accepted once, and it is healthy again', async () => {
  const sink = new CallbackSink();
  await sink.start();
  const maxRate = 2;
  try {
    sink.down = 503;
    const id = await pollingInstance(sink.url, maxRate);
    const objectIds = changes(12, 'Recovering');
    const notifications = objectIds.length / MAX_EVENTS_POLLING;
    await until(async () => (await endpointOf(id))?.state === 'open', 'the circuit opening', 60_000);
    const openedAtMs = Date.parse((await endpointOf(id)).openedAt);
    // One probe fails while open; then the callback comes back.
    await sink.waitFor(() => sink.received.some((r) => r.at > openedAtMs), 30_000, 'a probe');
    sink.down = undefined;
    const upAtMs = Date.now();
    await sink.waitFor(() => acceptedPerEvent(sink).size >= notifications, 90_000, 'the backlog');
    await until(
      async () => (await endpointOf(id))?.state === 'healthy',
      'healthy again',
      30_000,
      async () => JSON.stringify(await endpointOf(id)),
    );
    const drained = sink.received.filter((r) => r.at >= upAtMs);
    const perEvent = acceptedPerEvent(sink);
    const most = mostInOneSecond(drained);
    const spanMs = Math.max(...drained.map((r) => r.at)) - Math.min(...drained.map((r) => r.at));
    report('recovered endpoint', {
      notifications,
      'maxRate (per s)': maxRate,
      'posts after recovery': drained.length,
      'most posts in one second': most,
      'drain span (ms)': spanMs,
      'accepted more than once': [...perEvent.values()].filter((n) => n > 1).length,
    });
    expect(most).toBeLessThanOrEqual(maxRate + 1);
    expect(perEvent.size).toBe(notifications);
    expect([...perEvent.values()].every((n) => n === 1)).toBe(true);
    expect(
      sink
        .acceptedEvents()
        .map((e) => e.objectId)
        .sort(),
    ).toEqual([...objectIds].sort());
    await call(stack, 'DELETE', `/instances/${id}`);
    // The instance (outcome signals, the probe update, the recovery timer) and a held notification replay.
    await replays(stack, instanceWorkflowId(id));
    await replays(stack, deliveryWorkflowId(sink.received[0]!.body.message.eventId));
  } finally {
    await sink.stop();
  }
});

test('maxRate alone throttles a healthy callback', async () => {
  const sink = new CallbackSink();
  await sink.start();
  const maxRate = 2;
  try {
    const id = await pollingInstance(sink.url, maxRate);
    expect((await call(stack, 'GET', `/instances/${id}`)).body.configuration['event.notification.maxRate']).toBe(maxRate);
    const objectIds = changes(8, 'Healthy');
    const notifications = objectIds.length / MAX_EVENTS_POLLING;
    await sink.waitFor(() => sink.acceptedEvents().length >= objectIds.length, 60_000, 'every change');
    const most = mostInOneSecond(sink.received);
    const at = sink.received.map((r) => r.at);
    report('maxRate on a healthy callback', {
      notifications,
      'maxRate (per s)': maxRate,
      posts: sink.received.length,
      'most posts in one second': most,
      'span (ms)': Math.max(...at) - Math.min(...at),
    });
    expect(most).toBeLessThanOrEqual(maxRate + 1);
    expect(sink.received).toHaveLength(notifications);
    expect((await endpointOf(id)).state).toBe('healthy');
    await call(stack, 'DELETE', `/instances/${id}`);
  } finally {
    await sink.stop();
  }
});

describe('failing for days', () => {
  let days: Stack;
  beforeAll(async () => {
    // "Days" of 7.2 s: events go off at the first outcome reported after that long of failure.
    days = await startStack({
      env: {
        DELIVERY_FIRST_RETRY_SECONDS: '0.5',
        ENDPOINT_OPEN_AFTER_SECONDS: '2',
        ENDPOINT_PROBE_SECONDS: '1',
        ENDPOINT_DISABLE_AFTER_HOURS: '0.002',
      },
    });
  });
  afterAll(() => days?.stop());

  test('events are turned off, the reason in status, as for 410 Gone', async () => {
    const sink = new CallbackSink();
    await sink.start();
    try {
      sink.down = 500;
      const { id } = await createInstance(days, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: '0.02' }));
      await sleep(1100);
      for (let i = 0; i < 6 * MAX_EVENTS_POLLING; i++) days.insightly.create('Contacts', { FIRST_NAME: `Gone ${i}` });
      const viewOf = async () => (await call(days, 'GET', `/instances/${id}`)).body;
      await until(
        async () => (await viewOf()).eventsEnabled === false,
        'events turned off',
        60_000,
        async () => JSON.stringify((await viewOf()).status),
      );
      const view = await viewOf();
      report('failing for days', {
        attempts: sink.received.length,
        'seconds failing': Math.round(
          (Date.parse(view.status.endpoint.lastFailureAt) - Date.parse(view.status.endpoint.failingSince)) / 1000,
        ),
      });
      expect(view.status.eventsDisabled).toMatch(/every attempt at the callback has failed since/);
      expect(view.configuration['event.notification.enabled']).toBe(false);
      expect(sink.accepted()).toHaveLength(0);
      // Turned on again, the callback starts afresh (not off again at its next failure for its old days):
      // healthy, or failing only since the PATCH (the notifications still pending go on failing).
      const patchedAtMs = Date.now();
      const on = await call(days, 'PATCH', `/instances/${id}`, { json: { configuration: { 'event.notification.enabled': true } } });
      expect(on.status).toBe(200);
      expect(on.body.eventsEnabled).toBe(true);
      expect(on.body.status.eventsDisabled).toBeUndefined();
      expect(['healthy', 'failing']).toContain(on.body.status.endpoint.state);
      expect(Date.parse(on.body.status.endpoint.failingSince ?? new Date(patchedAtMs).toISOString())).toBeGreaterThanOrEqual(
        patchedAtMs - 1000,
      );
      await call(days, 'DELETE', `/instances/${id}`);
      await replays(days, instanceWorkflowId(id));
    } finally {
      await sink.stop();
    }
  });
});
