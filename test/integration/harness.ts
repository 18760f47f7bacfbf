import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { InterceptingCall } from '@grpc/grpc-js';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, WorkflowNotFoundError } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import type { AddressInfo } from 'node:net';
import { findRecord } from '../../src/api/delivery-records';
import type { AppDeps } from '../../src/api/app';
import { apiServer } from '../../src/api/main';
import { loadConfig, type Config } from '../../src/config';
import type { Element } from '../../src/elements/element';
import type { LookupFn } from '../../src/events/callback-url';
import { logger } from '../../src/logger';
import { loadSealer } from '../../src/secrets/sealer';
import { connectClient } from '../../src/temporal/connection';
import { workflowClientInterceptors } from '../../src/tracing/client-interceptors';
import { startTracing } from '../../src/tracing/tracing';
import { dataConverterFor } from '../../src/temporal/data-converter';
import { createWorker } from '../../src/worker';
import { deliveryWorkflowId } from '../../src/workflows/ids';
import { getDeliveryQuery } from '../../src/workflows/messages';
import type { DeliveryRecord } from '../../src/workflows/types';
import { CallbackSink } from '../fakes/callback-sink';
import { freePort } from '../fakes/http-server';
import { FakeFreshBooks } from '../fakes/freshbooks';
import { FakeInsightly } from '../fakes/insightly';
import { decodedHistory, textOf } from './history-payloads';

// The tests run against TEMPORAL_ADDRESS, where the development secrets are refused: an account of their own.
export const TEST_USER_SECRET = 'test-user-secret';
export const TEST_ORGANIZATION_SECRET = 'test-organization-secret';
export const PLATFORM_AUTH = `User ${TEST_USER_SECRET}, Organization ${TEST_ORGANIZATION_SECRET}`;
export const OTHER_ACCOUNT_AUTH = 'User other-user, Organization other-org';
export const INSIGHTLY_KEY = 'insightly-test-api-key';
export const TEST_SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');
export const FRESHBOOKS_CLIENT = { clientId: 'fb-client-id', clientSecret: 'fb-client-secret', redirectUri: 'https://mycoolapp.com' };

const root = path.resolve(__dirname, '..', '..');

/**
 * The API's dependencies with a Temporal client that never connects (its address refuses): for what the
 * API answers without Temporal (its routes, the codec server, the webhook receiver's refusals).
 * The caller closes `client.connection`.
 */
export function depsWithoutTemporal(env: Record<string, string> = {}): AppDeps & { client: Client } {
  const config = loadConfig({
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    ELEMENTS_USER_SECRET: TEST_USER_SECRET,
    ELEMENTS_ORGANIZATION_SECRET: TEST_ORGANIZATION_SECRET,
    SECRETS_KEY: TEST_SECRETS_KEY,
    LOG_LEVEL: 'warn',
    ...env,
  });
  const client = new Client({ connection: Connection.lazy({ address: config.TEMPORAL_ADDRESS! }) });
  const sealer = loadSealer({ secretsKey: TEST_SECRETS_KEY, dataDir: '.' });
  return { client, config, log: logger, sealer, callbackPolicy: { publicOnly: false } };
}

export interface Stack {
  api: string;
  config: Config;
  client: Client;
  insightly: FakeInsightly;
  freshbooks: FakeFreshBooks;
  sink: CallbackSink;
  taskQueue: string;
  /** The environment the API and workers run with (spawned processes get it too). */
  env: Record<string, string>;
  /** The gRPC methods the stack's client called, in order (the API's calls and the test's own). */
  temporalCalls: string[];
  /** Starts the worker in a child process (so a test can SIGKILL it); returns the process. */
  spawnWorker(extraEnv?: Record<string, string>): Promise<ChildProcess>;
  stop(): Promise<void>;
}

export async function startStack(
  opts: {
    env?: Record<string, string>;
    worker?: 'in-process' | 'none';
    insightlyKey?: string;
    freshbooksTokenLifetimeSeconds?: number;
    /** A Temporal server of the test's own (fault tests stop and restart it); default the shared one. */
    temporalAddress?: string;
    /** Resolves callback hosts for the API's checks and the worker's connections (a resolver stub). */
    callbackLookup?: LookupFn;
    /** The elements the API describes (default: the registry); a test adds an element only it knows. */
    elements?: ReadonlyMap<string, Element>;
    /** The API's port, when something started before the stack must know it (a Temporal UI's codec endpoint). */
    apiPort?: number;
  } = {},
): Promise<Stack> {
  const address = opts.temporalAddress ?? process.env.TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEST_TEMPORAL_ADDRESS is unset: run through jest (test/global-setup.ts)');
  const insightly = new FakeInsightly(opts.insightlyKey ?? INSIGHTLY_KEY);
  await insightly.start();
  const freshbooks = new FakeFreshBooks({ ...FRESHBOOKS_CLIENT, accessTokenLifetimeSeconds: opts.freshbooksTokenLifetimeSeconds });
  await freshbooks.start();
  const sink = new CallbackSink();
  await sink.start();
  // The API's address is fixed before it starts: webhook callbacks are registered at PUBLIC_URL.
  const port = opts.apiPort ?? (await freePort());
  const taskQueue = `test-${randomUUID()}`;
  const env = {
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    INSIGHTLY_API_URL: insightly.url,
    FRESHBOOKS_API_URL: freshbooks.url,
    FRESHBOOKS_AUTH_URL: freshbooks.url,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    EVENTS_MIN_REFRESH_INTERVAL_MINUTES: '0.001',
    ELEMENTS_USER_SECRET: TEST_USER_SECRET,
    ELEMENTS_ORGANIZATION_SECRET: TEST_ORGANIZATION_SECRET,
    ELEMENTS_ACCOUNTS: 'other-user:other-org',
    // The callback sink listens on loopback: allowed here, refused by default outside development.
    CALLBACK_URLS_PUBLIC_ONLY: 'false',
    // The suites send many wrong secrets from one address on purpose; the limit has a test of its own.
    AUTH_FAILURES_PER_MINUTE: '100000',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    SECRETS_KEY: TEST_SECRETS_KEY,
    ...opts.env,
  };
  const config = loadConfig(env);
  // Every gRPC call the API (and the test) makes to Temporal, by method: attacks must not cause one per request.
  const temporalCalls: string[] = [];
  // OTEL_EXPORTER_OTLP_ENDPOINT in `env`: the API traces its requests and its client's calls (the worker, its own).
  const apiTracing = startTracing(config, 'api');
  const client = await connectClient(address, config.TEMPORAL_NAMESPACE, {
    workflowInterceptors: workflowClientInterceptors(apiTracing),
    interceptors: [
      (options, nextCall) => {
        temporalCalls.push(String(options.method_definition.path));
        return new InterceptingCall(nextCall(options));
      },
      makeGrpcRetryInterceptor(defaultGrpcRetryOptions()),
    ],
    // The app's payload codec: the tests' client reads and writes what the API and workers do.
    dataConverter: dataConverterFor(config),
  });

  const closers: (() => Promise<void>)[] = [];
  if ((opts.worker ?? 'in-process') === 'in-process') {
    const { worker, close } = await createWorker(config, address, { lookup: opts.callbackLookup });
    const running = worker.run();
    closers.push(async () => {
      worker.shutdown();
      await running;
      await close();
    });
  }
  const children: ChildProcess[] = [];
  const sealer = loadSealer({ secretsKey: config.SECRETS_KEY, dataDir: '.' });
  const server = apiServer({
    client,
    config,
    log: logger,
    sealer,
    callbackPolicy: { publicOnly: config.CALLBACK_URLS_PUBLIC_ONLY, lookup: opts.callbackLookup },
    elements: opts.elements,
    tracer: apiTracing?.tracer,
  });
  await new Promise<void>((resolve, reject) => {
    server.listen(port, '127.0.0.1', () => resolve());
    server.once('error', reject);
  });
  const listening = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      // Before the client's connection closes: a webhook update try left in the client's retry backoff.
      await server.settled();
    },
  };

  return {
    api: `${listening.url}/elements/api-v2`,
    config,
    client,
    insightly,
    freshbooks,
    sink,
    taskQueue,
    env: env as Record<string, string>,
    temporalCalls,
    async spawnWorker(extraEnv: Record<string, string> = {}) {
      // node itself (with tsx as a loader), not the tsx CLI: a SIGKILL must reach the worker, not a wrapper.
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'worker.ts')], {
        cwd: root,
        env: { ...process.env, ...env, ...extraEnv },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    },
    async stop() {
      await listening.close();
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const close of closers.reverse()) await close();
      await client.connection.close();
      await apiTracing?.shutdown();
      await insightly.stop();
      await freshbooks.stop();
      await sink.stop();
    },
  };
}

// Bodies are JSON the tests pick apart freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function call<T = any>(
  stack: Pick<Stack, 'api'>,
  method: string,
  route: string,
  opts: { auth?: string | null; json?: unknown; raw?: string; contentType?: string } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {};
  const auth = opts.auth === undefined ? PLATFORM_AUTH : opts.auth;
  if (auth) headers.authorization = auth;
  let body: string | undefined;
  if (opts.raw !== undefined || opts.json !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    body = opts.raw ?? JSON.stringify(opts.json);
  }
  const res = await fetch(`${stack.api}${route}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** The seed's first Insightly body, with its placeholders filled in. */
export function insightlySeedBody(opts: { callbackUrl: string; refreshInterval: string | number; signatureKey?: string }) {
  const dates = {
    updatedDateField: 'DATE_UPDATED_UTC',
    updatedDateFormat: 'yyyy-MM-dd HH:mm:ss',
    updatedDateTimezone: 'GMT',
    createdDateField: 'DATE_CREATED_UTC',
    createdDateFormat: 'yyyy-MM-dd HH:mm:ss',
    createdDateTimezone: 'GMT',
  };
  return {
    element: { key: 'insightly' },
    providerData: { code: 'not-used-by-insightly' },
    configuration: {
      username: 'ops@example.com',
      password: INSIGHTLY_KEY,
      'event.notification.enabled': true,
      'event.vendor.type': 'polling',
      'event.poller.refresh_interval': String(opts.refreshInterval),
      'event.notification.callback.url': opts.callbackUrl,
      ...(opts.signatureKey ? { 'event.notification.signature.key': opts.signatureKey } : {}),
      'event.poller.configuration': {
        contacts: {
          url: "/hubs/crm/contacts?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss}'",
          idField: 'CONTACT_ID',
          datesConfiguration: dates,
        },
        accounts: {
          url: "/hubs/crm/accounts?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss}'",
          idField: 'ORGANISATION_ID',
          datesConfiguration: dates,
        },
        leads: {},
        opportunities: {},
      },
    },
    tags: ['Docs'],
    name: 'API Instance with Polling',
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function createInstance(stack: Stack, body: unknown): Promise<{ id: number; token: string } & Record<string, any>> {
  const res = await call(stack, 'POST', '/instances', { json: body });
  if (res.status !== 200) throw new Error(`POST /instances answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Instance workflows (any status) started on this stack's task queue. */
export async function instanceWorkflowCount(stack: Stack): Promise<number> {
  const { count } = await stack.client.workflow.count(`WorkflowType = 'instanceWorkflow' AND TaskQueue = '${stack.taskQueue}'`);
  return count;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Notifications the callback received more than once (a retry after a lost answer): how many, after
 * checking that each repeat carried the very bytes of the first, as receivers that dedupe rely on.
 */
export function repeatsAreIdentical(received: readonly { rawBody: string; body: { message: { eventId: string } } }[]): number {
  const bodies = new Map<string, Set<string>>();
  for (const r of received) bodies.set(r.body.message.eventId, (bodies.get(r.body.message.eventId) ?? new Set()).add(r.rawBody));
  const differing = [...bodies.entries()].filter(([, b]) => b.size > 1).map(([eventId]) => eventId);
  if (differing.length) throw new Error(`notifications sent again with other bytes under the same eventId: ${differing.join(', ')}`);
  return received.length - bodies.size;
}

/**
 * Waits until the instance itself counts `verified` confirmed callbacks. FreshBooks marks a callback
 * verified a moment before the instance records it; webhooks signed meanwhile would be refused.
 */
export async function waitForVerified(stack: Stack, id: number, verified: number, auth?: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const view = await call(stack, 'GET', `/instances/${id}`, { auth });
    if (view.body?.status?.callbacks?.verified === verified) return;
    if (Date.now() > deadline) throw new Error(`instance ${id}: ${JSON.stringify(view.body?.status?.callbacks)}, not ${verified} verified`);
    await sleep(100);
  }
}

/** The seed's freshbooksv2 body, with its placeholders filled in. */
export function freshbooksSeedBody(opts: { code: string; callbackUrl: string; businessName?: string; signatureKey?: string }) {
  return {
    element: { key: 'freshbooksv2' },
    providerData: { code: opts.code },
    configuration: {
      'oauth.callback.url': FRESHBOOKS_CLIENT.redirectUri,
      'oauth.api.key': FRESHBOOKS_CLIENT.clientId,
      'oauth.api.secret': FRESHBOOKS_CLIENT.clientSecret,
      'business.name': opts.businessName ?? 'MyBiz',
      'event.notification.enabled': true,
      'event.vendor.type': 'webhooks',
      'event.notification.callback.url': opts.callbackUrl,
      ...(opts.signatureKey ? { 'event.notification.signature.key': opts.signatureKey } : {}),
    } as Record<string, unknown>,
    tags: ['Docs'],
    name: 'API Instance',
  };
}

/**
 * Every byte a workflow's history holds (payloads decrypted by the codec, then as text), to search for
 * secrets: what is sealed must stay sealed even to a reader who holds the payload keys.
 */
export async function historyText(stack: Pick<Stack, 'client'>, workflowId: string): Promise<string> {
  return textOf(await decodedHistory(stack.client, workflowId), 'utf8');
}

/**
 * The waits a notification's delivery workflow scheduled, in ms, in order: its history's timers
 * (TIMER_STARTED's startToFireTimeout), i.e. what the schedule decided, whatever the clock did. A
 * notification its batch delivered at the first attempt has no workflow of its own, and no waits.
 */
export async function deliveryTimersMs(stack: Pick<Stack, 'client'>, eventId: string): Promise<number[]> {
  let history;
  try {
    history = await stack.client.workflow.getHandle(deliveryWorkflowId(eventId)).fetchHistory();
  } catch (err) {
    // fetchHistory answers an unknown workflow with gRPC's NOT_FOUND (5) itself.
    if (err instanceof WorkflowNotFoundError || (err as { code?: number }).code === 5) return [];
    throw err;
  }
  return (history.events ?? []).flatMap((e) => {
    const timeout = e.timerStartedEventAttributes?.startToFireTimeout;
    return timeout ? [tsToMs(timeout)] : [];
  });
}

/** The workflow holding a notification's record: its own, or the batch that delivered it. */
export async function notificationWorkflowId(stack: Pick<Stack, 'client'>, eventId: string): Promise<string> {
  const found = await findRecord({ client: stack.client, namespace: stack.client.options.namespace }, eventId);
  if (!found) throw new Error(`no record of notification ${eventId}`);
  return found.handle.workflowId;
}

/** The delivery record of one notification, once it is final (delivered, gone or cancelled), wherever it is held. */
export async function closedDelivery(stack: Pick<Stack, 'client'>, eventId: string): Promise<DeliveryRecord> {
  const scope = { client: stack.client, namespace: stack.client.options.namespace };
  for (;;) {
    const found = await findRecord(scope, eventId);
    if (!found) throw new Error(`no record of notification ${eventId}`);
    await found.handle.result();
    if (!found.batched) return await found.handle.query(getDeliveryQuery);
    // The batch closed: it delivered the notification, or moved it on to its own workflow.
    const settled = await findRecord(scope, eventId);
    if (settled?.batched && settled.record.status === 'delivered') return settled.record;
  }
}

/** One line of counts a test asserts, printed so a run shows the figures: `what: k v, k v`. */
export function report(what: string, counts: Record<string, number>): void {
  process.stdout.write(
    `${what}: ${Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}\n`,
  );
}

/** Polls `check` every 250 ms until it holds; after `timeoutMs`, fails naming `what` (and `explain()`). */
export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 60_000,
  explain?: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${explain ? `: ${await explain()}` : ''}`);
    await sleep(250);
  }
}
