import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { DEFAULT_RETENTION, namespaceRetentionSeconds, parseRetention } from '../../src/stack/namespace';
import { workerIdentity } from '../../src/stack/apps';
import { startStack, type RunningStack } from '../../src/stack/stack';
import { connectClient } from '../../src/temporal/connection';
import { dataConverterFor } from '../../src/temporal/data-converter';
import { findRecord } from '../../src/api/delivery-records';
import { instanceWorkflowId } from '../../src/workflows/ids';
import { CallbackSink } from '../fakes/callback-sink';
import { FakeFreshBooks } from '../fakes/freshbooks';
import { FakeInsightly } from '../fakes/insightly';
import {
  call,
  FRESHBOOKS_CLIENT,
  freshbooksSeedBody,
  INSIGHTLY_KEY,
  insightlySeedBody,
  report,
  sleep,
  TEST_ORGANIZATION_SECRET,
  TEST_SECRETS_KEY,
  TEST_USER_SECRET,
  until,
  type Stack,
} from '../integration/harness';
import { stackPorts } from './ports';

/**
 * The stack of `npm run stack` (two workers, two API processes behind the round-robin proxy, the
 * Temporal server on PostgreSQL) under a steady load: webhooks into one FreshBooks instance through
 * the proxy, and changes polled by 50 Insightly instances. One fault at a time while work is in
 * flight: a worker SIGKILLed, an API process SIGKILLed, the Temporal server SIGKILLed and restarted,
 * PostgreSQL restarted (fast shutdown). Every accepted webhook and every change must be delivered,
 * and a repeat only under its first eventId. A count line per fault.
 */

jest.setTimeout(30 * 60_000);

const POLLING_INSTANCES = 50;
const REFRESH = '0.1'; // minutes between polls: 6 s
const WEBHOOK_EVERY_MS = 250;
const CHANGE_EVERY_MS = 2_000;

let stack: RunningStack;
let client: Client;
let insightly: FakeInsightly;
let freshbooks: FakeFreshBooks;
let sink: CallbackSink;
let dataDir: string;
/** Every PID each worker slot had (a killed worker is started again with a new one). */
const workerPids = new Map<number, number[]>();
let api: Pick<Stack, 'api'>;

beforeAll(async () => {
  insightly = new FakeInsightly(INSIGHTLY_KEY);
  await insightly.start();
  freshbooks = new FakeFreshBooks({ ...FRESHBOOKS_CLIENT });
  await freshbooks.start();
  sink = new CallbackSink();
  await sink.start();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'element-events-cluster-faults-'));
  stack = await startStack({
    dataDir,
    ports: await stackPorts(),
    workers: 2,
    apis: 2,
    ui: false,
    namespace: 'default',
    retentionSeconds: parseRetention(DEFAULT_RETENTION),
    appEnv: {
      ...process.env,
      INSIGHTLY_API_URL: insightly.url,
      FRESHBOOKS_API_URL: freshbooks.url,
      FRESHBOOKS_AUTH_URL: freshbooks.url,
      EVENTS_MIN_REFRESH_INTERVAL_MINUTES: '0.001',
      ELEMENTS_USER_SECRET: TEST_USER_SECRET,
      ELEMENTS_ORGANIZATION_SECRET: TEST_ORGANIZATION_SECRET,
      CALLBACK_URLS_PUBLIC_ONLY: 'false',
      AUTH_FAILURES_PER_MINUTE: '100000',
      SECRETS_KEY: TEST_SECRETS_KEY,
      LOG_LEVEL: 'warn',
    },
    log: () => undefined,
  });
  stack.workers.forEach((w, i) => workerPids.set(i, [w.pid!]));
  api = { api: `${stack.apiUrl}/elements/api-v2` };
  // The stack's processes encrypt payloads with keys derived from this SECRETS_KEY: the test's client reads them alike.
  client = await connectClient(stack.temporalAddress, stack.namespace, {
    dataConverter: dataConverterFor({ SECRETS_KEY: TEST_SECRETS_KEY, PAYLOAD_KEYS: process.env.PAYLOAD_KEYS, DATA_DIR: '.' }),
  });
});

afterAll(async () => {
  await client?.connection.close();
  await stack?.stop();
  await insightly?.stop();
  await freshbooks?.stop();
  await sink?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** One Insightly instance polling only contacts. */
function contactsOnly() {
  const body = insightlySeedBody({ callbackUrl: sink.url, refreshInterval: REFRESH });
  body.configuration['event.poller.configuration'] = {
    contacts: { url: "/hubs/crm/contacts?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss}'", idField: 'CONTACT_ID' },
  } as never;
  return body;
}

async function create(body: unknown): Promise<number> {
  const res = await call(api, 'POST', '/instances', { json: body });
  if (res.status !== 200) throw new Error(`POST /instances answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.id as number;
}

interface Sent {
  phase: string;
  objectId: string;
  accepted: boolean;
}

test('faults under load: nothing accepted is lost, repeats only under the same eventId, two workers share the work', async () => {
  // --- the load's targets ---------------------------------------------------------------------
  const clock = { start: Date.now(), loaded: 0, delivered: 0, counted: 0 };
  const pollers: number[] = [];
  for (let i = 0; i < POLLING_INSTANCES; i++) pollers.push(await create(contactsOnly()));
  const webhookInstance = await create(freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url }));
  const ours = () => freshbooks.callbacks().filter((c) => c.uri.endsWith(`/events/freshbooksv2/${webhookInstance}`));
  await until(() => ours().filter((c) => c.verified).length === 18, 'the FreshBooks callbacks verified', 120_000);
  await until(
    async () => (await call(api, 'GET', `/instances/${webhookInstance}`)).body?.status?.callbacks?.verified === 18,
    'the instance to count its callbacks verified',
    60_000,
  );
  await sleep(1100); // changes strictly after the instances were created
  clock.loaded = Date.now();

  // --- the steady load: webhooks sent until accepted, changes made at a steady pace ---------------
  let phase = 'warm-up';
  const webhooks: Sent[] = [];
  const changes: Sent[] = [];
  const statuses = new Map<number, number>();
  const senders: Promise<void>[] = [];
  let loading = true;
  const sendUntilAccepted = async (w: Sent): Promise<void> => {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const answers = await freshbooks.sendWebhook(
        'invoice.update',
        w.objectId,
        {},
        { uri: ours().find((c) => c.event === 'invoice.update')!.uri },
      );
      for (const s of answers) statuses.set(s, (statuses.get(s) ?? 0) + 1);
      if (answers.length > 0 && answers.every((s) => s === 200)) {
        w.accepted = true;
        return;
      }
      if (Date.now() > deadline) return; // counted as not accepted (and the test fails below)
      await sleep(500);
    }
  };
  const webhookLoad = (async () => {
    for (let n = 0; loading; n++) {
      const w = { phase, objectId: String(70_000 + n), accepted: false };
      webhooks.push(w);
      senders.push(sendUntilAccepted(w));
      await sleep(WEBHOOK_EVERY_MS);
    }
  })();
  const changeLoad = (async () => {
    while (loading) {
      changes.push({
        phase,
        objectId: String(insightly.create('Contacts', { FIRST_NAME: `load ${changes.length}` }).CONTACT_ID),
        accepted: true,
      });
      await sleep(CHANGE_EVERY_MS);
    }
  })();

  /** Deliveries in flight: notifications the sink took in the last 2 s. */
  const busy = () => sink.received.some((r) => r.at > Date.now() - 2000);
  const faults: { name: string; inject(): Promise<void> }[] = [
    {
      name: 'worker SIGKILL',
      async inject() {
        const w = stack.workers[0]!;
        await w.kill();
        w.start();
        workerPids.get(0)!.push(w.pid!);
        await stack.workerReady(w);
      },
    },
    {
      name: 'API process SIGKILL',
      async inject() {
        const a = stack.apis[0]!;
        await a.kill();
        await sleep(1000); // requests meanwhile go to the other API (the proxy skips a refused one)
        a.start();
        await stack.apiReady(a);
      },
    },
    {
      name: 'Temporal server SIGKILL and restart',
      async inject() {
        await stack.temporal.kill();
        // Meanwhile the API's health check names the part that is down.
        healthWhileDown = await call(api, 'GET', '/healthz', { auth: null });
        await stack.restartTemporal();
      },
    },
    { name: 'PostgreSQL restart (fast shutdown)', inject: () => stack.restartPostgres() },
  ];
  const timings: Record<string, number> = {};
  let healthWhileDown: Awaited<ReturnType<typeof call>> | undefined;
  await sleep(8_000); // the load runs before the first fault
  for (const fault of faults) {
    phase = fault.name;
    await sleep(4_000);
    await until(busy, `deliveries in flight before the ${fault.name}`, 60_000);
    const t = Date.now();
    await fault.inject();
    timings[fault.name] = Date.now() - t;
    await sleep(6_000);
  }
  phase = 'after';
  await sleep(4_000);
  loading = false;
  await webhookLoad;
  await changeLoad;
  await Promise.all(senders);

  // --- everything delivered ---------------------------------------------------------------------
  const delivered = () => {
    /** `${instanceId}/${objectId}` → the eventIds it arrived under. */
    const eventIdsOf = new Map<string, Set<string>>();
    const receipts = new Map<string, number>();
    for (const r of sink.accepted()) {
      const { eventId, instanceId, events } = r.body.message;
      receipts.set(eventId, (receipts.get(eventId) ?? 0) + 1);
      for (const e of events) {
        const key = `${instanceId}/${e.objectId}`;
        eventIdsOf.set(key, (eventIdsOf.get(key) ?? new Set()).add(eventId));
      }
    }
    return { eventIdsOf, receipts };
  };
  const due = () => {
    const keys: { phase: string; key: string; kind: 'webhook' | 'change' }[] = [];
    for (const w of webhooks) if (w.accepted) keys.push({ phase: w.phase, key: `${webhookInstance}/${w.objectId}`, kind: 'webhook' });
    for (const c of changes) for (const id of pollers) keys.push({ phase: c.phase, key: `${id}/${c.objectId}`, kind: 'change' });
    return keys;
  };
  const missing = () => {
    const { eventIdsOf } = delivered();
    return due().filter((k) => !eventIdsOf.has(k.key));
  };
  await until(
    () => missing().length === 0,
    'every accepted webhook and every change delivered',
    600_000,
    async () => {
      const m = missing();
      return `${m.length} missing, e.g. ${m
        .slice(0, 5)
        .map((k) => `${k.phase}: ${k.key}`)
        .join(', ')}`;
    },
  );
  clock.delivered = Date.now();
  await sleep(5_000); // repeats still on their way arrive too

  // --- a count line per fault --------------------------------------------------------------------
  const { eventIdsOf, receipts } = delivered();
  const lines: Record<string, { lost: number; reIdentified: number }> = {};
  for (const name of ['warm-up', ...faults.map((f) => f.name), 'after']) {
    const sentHooks = webhooks.filter((w) => w.phase === name);
    const acceptedHooks = sentHooks.filter((w) => w.accepted);
    const phaseChanges = changes.filter((c) => c.phase === name);
    const keys = due().filter((k) => k.phase === name);
    const deliveredKeys = keys.filter((k) => eventIdsOf.has(k.key));
    const eventIds = new Set(deliveredKeys.flatMap((k) => [...eventIdsOf.get(k.key)!]));
    const duplicateIds = [...eventIds].filter((e) => receipts.get(e)! > 1).length;
    const reIdentified = deliveredKeys.filter((k) => eventIdsOf.get(k.key)!.size > 1).length;
    const lost = keys.length - deliveredKeys.length;
    lines[name] = { lost, reIdentified };
    report(`cluster fault ${name}`, {
      'webhooks sent': sentHooks.length,
      accepted: acceptedHooks.length,
      'changes made': phaseChanges.length,
      'deliveries due': keys.length,
      delivered: deliveredKeys.length,
      lost,
      'duplicate ids': duplicateIds,
      're-identified': reIdentified,
      ...(timings[name] !== undefined ? { 'fault ms': timings[name] } : {}),
    });
  }
  expect(healthWhileDown?.status).toBe(503);
  expect(healthWhileDown?.body).toMatchObject({ status: 'unavailable', temporal: false, down: ['temporal'] });
  report('cluster webhook answers', Object.fromEntries([...statuses].map(([s, n]) => [`status ${s}`, n])));
  for (const [name, l] of Object.entries(lines)) {
    expect({ name, ...l }).toEqual({ name, lost: 0, reIdentified: 0 });
  }
  expect(webhooks.filter((w) => !w.accepted)).toEqual([]);
  // 200, or a refusal FreshBooks sends again: 503 (Temporal unreachable), 502 (the API process died mid-request), 0 (no answer in 10 s).
  expect([...statuses.keys()].filter((s) => ![0, 200, 502, 503].includes(s))).toEqual([]);
  // Each webhook is one event to the instance, however often FreshBooks had to send it.
  const view = await call(api, 'GET', `/instances/${webhookInstance}`);
  expect(view.body.status.webhooks.received).toBe(webhooks.length);

  // --- two workers shared the load: each ran workflow tasks and activities -------------------------
  const share = new Map<number, { workflowTasks: number; activities: number }>([
    [0, { workflowTasks: 0, activities: 0 }],
    [1, { workflowTasks: 0, activities: 0 }],
  ]);
  const slotOf = new Map<string, number>();
  for (const [slot, pids] of workerPids) for (const pid of pids) slotOf.set(workerIdentity(pid), slot);
  for (const id of [...pollers, webhookInstance]) {
    const history = await client.workflow.getHandle(instanceWorkflowId(id)).fetchHistory();
    for (const e of history.events ?? []) {
      const wft = e.workflowTaskCompletedEventAttributes?.identity;
      const act = e.activityTaskStartedEventAttributes?.identity;
      if (wft && slotOf.has(wft)) share.get(slotOf.get(wft)!)!.workflowTasks++;
      if (act && slotOf.has(act)) share.get(slotOf.get(act)!)!.activities++;
    }
  }
  clock.counted = Date.now();
  report('cluster two workers', {
    'worker-1 workflow tasks': share.get(0)!.workflowTasks,
    'worker-1 activities': share.get(0)!.activities,
    'worker-2 workflow tasks': share.get(1)!.workflowTasks,
    'worker-2 activities': share.get(1)!.activities,
  });
  report('cluster timings (s)', {
    'instances created and verified': Math.round((clock.loaded - clock.start) / 1000),
    'load and faults, then all delivered': Math.round((clock.delivered - clock.loaded) / 1000),
    'histories read': Math.round((clock.counted - clock.delivered) / 1000),
  });
  for (const s of share.values()) {
    expect(s.workflowTasks).toBeGreaterThan(0);
    expect(s.activities).toBeGreaterThan(0);
  }
  // Both API processes answered through the proxy.
  expect(stack.apiPorts.every((p) => (stack.proxy.served.get(p) ?? 0) > 0)).toBe(true);
});

test('a notification record stays readable for the retention: 7 days on the namespace, at least 2', async () => {
  const retention = await namespaceRetentionSeconds(stack.connection, stack.namespace);
  // A notification delivered before all the faults above: its workflow closed, its record still there.
  const first = sink.accepted()[0]!.body.message;
  const record = await call(api, 'GET', `/instances/${first.instanceId}/events/${first.eventId}`);
  // Held by its delivery batch, or by a workflow of its own if it was retried: closed either way.
  const holder = await findRecord({ client, namespace: stack.namespace }, first.eventId);
  const described = await holder!.handle.describe();
  const closed = described.closeTime!.getTime();
  report('cluster retention', {
    'retention days': retention / 86_400,
    'record status 200': record.status === 200 ? 1 : 0,
    'readable until (days after delivery)': retention / 86_400,
  });
  expect(retention).toBe(7 * 86_400);
  expect(retention).toBeGreaterThanOrEqual(2 * 86_400);
  expect(record.status).toBe(200);
  expect(record.body.status).toBe('delivered');
  expect(described.status.name).toBe('COMPLETED');
  // The server deletes it at close + retention: two days after its delivery it is still kept.
  expect(closed + retention * 1000).toBeGreaterThan(closed + 2 * 86_400_000);
});
