import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import parsePrometheusTextFormat, { type PrometheusFamily, type PrometheusSample } from 'parse-prometheus-text-format';
import { apiServer } from '../../src/api/main';
import { loadConfig } from '../../src/config';
import { elements } from '../../src/elements';
import { logger } from '../../src/logger';
import { INSTANCE_COUNTS_TTL_MS } from '../../src/metrics/instance-counts';
import { loadSealer } from '../../src/secrets/sealer';
import { withSink, type CallbackSink } from '../fakes/callback-sink';
import { freePort } from '../fakes/http-server';
import {
  call,
  createInstance,
  freshbooksSeedBody,
  insightlySeedBody,
  PLATFORM_AUTH,
  report,
  sleep,
  startStack,
  until,
  waitForVerified,
  type Stack,
} from './harness';

jest.setTimeout(180_000);

const OPERATOR_TOKEN = 'test-operator-token-for-metrics';
// Three attempts a notification, 0.2 s then 0.8 s apart: a failing callback fails a notification in about a second.
const FAST_SCHEDULE = { DELIVERY_FIRST_RETRY_SECONDS: '0.2', DELIVERY_MAX_ATTEMPTS: '3' };
const FRESHBOOKS_CALLBACKS = 18;

/**
 * One scrape, parsed with parse-prometheus-text-format. That parser folds a histogram family into a
 * single sample and keeps `_count` and `_sum` only when the histogram has no labels, so ours (all
 * labelled) are also read from a second parse in which histograms are declared untyped: there each
 * `_bucket`, `_sum` and `_count` line is a sample of its own, with all its labels.
 */
class Scrape {
  readonly families: PrometheusFamily[];
  /** Every sample line as its own sample (histograms untyped). */
  private readonly lines: PrometheusFamily[];

  constructor(readonly text: string) {
    this.families = parsePrometheusTextFormat(text);
    this.lines = parsePrometheusTextFormat(text.replace(/^(# TYPE \S+) histogram$/gm, '$1 untyped'));
  }

  private samples(name: string, labels: Record<string, string>): PrometheusSample[] {
    return this.lines
      .filter((f) => f.name === name)
      .flatMap((f) => f.metrics)
      .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  }
  /** A counter's or gauge's value, summed over the matching series. */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.samples(name, labels).reduce((sum, m) => sum + Number(m.value ?? 0), 0);
  }
  /** A histogram's observation count. */
  count(name: string, labels: Record<string, string> = {}): number {
    return this.value(`${name}_count`, labels);
  }
  /** A histogram's sum of observations. */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.value(`${name}_sum`, labels);
  }
  /** Every label value of every sample line. */
  labelValues(): string[] {
    return this.lines.flatMap((f) => f.metrics.flatMap((m) => Object.values(m.labels ?? {})));
  }
  sampleCount(): number {
    return this.lines.reduce((sum, f) => sum + f.metrics.length, 0);
  }
}

/** What moved between two scrapes. */
const delta = (before: Scrape, after: Scrape) => ({
  value: (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels),
  count: (name: string, labels: Record<string, string> = {}) => after.count(name, labels) - before.count(name, labels),
  sum: (name: string, labels: Record<string, string> = {}) => after.sum(name, labels) - before.sum(name, labels),
});

const originOf = (stack: Stack) => new URL(stack.api).origin;

async function get(url: string, authorization?: string): Promise<{ status: number; contentType: string; text: string }> {
  const res = await fetch(url, { headers: authorization ? { authorization } : {} });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}

async function scrapeAt(url: string): Promise<Scrape> {
  const res = await get(url, `Bearer ${OPERATOR_TOKEN}`);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${res.text}`);
  return new Scrape(res.text);
}

describe('metrics: GET /metrics on a real Temporal', () => {
  let stack: Stack;
  const scrape = () => scrapeAt(`${originOf(stack)}/metrics`);
  /** Every instance this suite created: no label may carry one of their ids. */
  const instanceIds: number[] = [];

  beforeAll(async () => {
    stack = await startStack({ env: { OPERATOR_TOKEN, ...FAST_SCHEDULE } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** Labels carry only small closed sets: never an instance id, a URL, or a secret. */
  function expectNoIdentifyingLabels(s: Scrape): void {
    const values = s.labelValues();
    for (const id of instanceIds) expect(values).not.toContain(String(id));
    for (const value of values) {
      expect(value).not.toMatch(/https?:|127\.0\.0\.1/);
      expect(value).not.toContain(OPERATOR_TOKEN);
    }
    for (const family of s.families) expect(family.name).toMatch(/^element_events_/);
    // Every line was parsed into a sample (none lost to the histogram folding).
    expect(s.sampleCount()).toBe(s.text.split('\n').filter((l) => l && !l.startsWith('#')).length);
  }

  async function verifiedFreshBooksInstance(callbackUrl: string) {
    const created = await createInstance(stack, freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl }));
    instanceIds.push(created.id);
    await waitForVerified(stack, created.id, FRESHBOOKS_CALLBACKS);
    await stack.freshbooks.idle();
    const uri = `${stack.config.PUBLIC_URL}/elements/api-v2/events/freshbooksv2/${created.id}`;
    return { ...created, uri };
  }

  const ours = (sink: CallbackSink, id: number) => sink.received.filter((r) => r.body.message.instanceId === id);

  test('only operators reach it: no token, a wrong one or an account secret is a 401; without OPERATOR_TOKEN it is a 404', async () => {
    const url = `${originOf(stack)}/metrics`;
    const none = await get(url);
    const wrong = await get(url, 'Bearer not-the-operator-token-at-all');
    const account = await get(url, PLATFORM_AUTH);
    const right = await get(url, `Bearer ${OPERATOR_TOKEN}`);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).message).toContain('Bearer <OPERATOR_TOKEN>');
    expect(wrong.status).toBe(401);
    expect(wrong.text).not.toContain('not-the-operator-token-at-all');
    expect(account.status).toBe(401);
    expect(right.status).toBe(200);
    expect(right.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusTextFormat(right.text);
    const names = families.map((f) => f.name);
    for (const name of [
      'element_events_webhooks_received_total',
      'element_events_webhooks_refused_total',
      'element_events_delivery_attempts_total',
      'element_events_notifications_total',
      'element_events_delivery_latency_seconds',
      'element_events_poll_duration_seconds',
      'element_events_poll_lag_seconds',
      'element_events_poll_records',
      'element_events_instances',
    ])
      expect(names).toContain(name);
    // Prometheus' conventions: counters end in _total, and nothing is measured in milliseconds.
    for (const f of families) {
      if (f.type === 'COUNTER') expect(f.name).toMatch(/_total$/);
      expect(f.name).not.toMatch(/_ms$|millis/);
    }

    // The same app with no operator token (outside development): the endpoint does not exist.
    const config = loadConfig({ ...stack.env, OPERATOR_TOKEN: '' });
    expect(config.OPERATOR_TOKEN).toBeUndefined();
    const server = apiServer({
      client: stack.client,
      config,
      log: logger,
      sealer: loadSealer({ secretsKey: config.SECRETS_KEY, dataDir: '.' }),
      callbackPolicy: { publicOnly: false },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const off = await get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, `Bearer ${OPERATOR_TOKEN}`);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(off.status).toBe(404);
    report('metrics access', {
      noToken: none.status,
      wrongToken: wrong.status,
      accountSecrets: account.status,
      operator: right.status,
      withoutOperatorToken: off.status,
      families: families.length,
    });
  });

  test('a poll and a webhook delivered move the counters by exactly what happened', async () => {
    const { insightly, freshbooks, sink } = stack;
    const before = await scrape();
    const callsBefore = insightly.calls.length;

    // A poll: three contacts created after the instance, reported in one notification.
    const polled = await createInstance(stack, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: '0.1' }));
    instanceIds.push(polled.id);
    await sleep(1100);
    for (const name of ['Ada', 'Grace', 'Edsger']) insightly.create('Contacts', { FIRST_NAME: name });
    await sink.waitFor(() => ours(sink, polled.id).length >= 1, 60_000, 'the polled notification');
    await until(
      async () => (await scrape()).value('element_events_instances', { element: 'insightly', events: 'on' }) === 1,
      'one running insightly instance counted',
    );
    expect((await call(stack, 'DELETE', `/instances/${polled.id}`)).status).toBe(200);

    // A webhook: a verified FreshBooks instance, one signed webhook, and three refused posts.
    const hooked = await verifiedFreshBooksInstance(sink.url);
    expect(await freshbooks.sendWebhook('invoice.create', 1001, {}, { uri: hooked.uri })).toEqual([200]);
    expect(await freshbooks.sendWebhook('invoice.create', 1002, {}, { uri: hooked.uri, signature: 'wrong' })).toEqual([401]);
    expect(await freshbooks.sendWebhook('invoice.create', 1003, {}, { uri: hooked.uri, contentType: 'application/json' })).toEqual([400]);
    const unknown = await fetch(`${stack.api}/events/nosuchelement/${hooked.id}`, { method: 'POST', body: 'a=b' });
    expect(unknown.status).toBe(404);
    await sink.waitFor(() => ours(sink, hooked.id).length >= 1, 30_000, 'the webhook notification');
    await until(
      async () => (await scrape()).value('element_events_instances', { element: 'freshbooksv2', events: 'on' }) === 1,
      'one running freshbooksv2 instance counted',
    );

    // What happened, as the fakes saw it.
    const pollCalls = insightly.calls.slice(callsBefore).filter((c) => c.status === 200 && c.query.skip !== undefined);
    const polls = pollCalls.filter((c) => c.query.skip === '0').length;
    const records = pollCalls.reduce((sum, c) => sum + (c.returned ?? 0), 0);
    const verifications = freshbooks.verificationPosts.filter((p) => p.uri === hooked.uri);
    const verified = verifications.filter((p) => p.status === 200).length;
    const verificationsNotFound = verifications.filter((p) => p.status === 404).length;
    const pollNotifications = ours(sink, polled.id).filter((r) => r.answered === 200).length;
    const webhookNotifications = ours(sink, hooked.id).filter((r) => r.answered === 200).length;
    expect(pollNotifications).toBe(1);
    expect(webhookNotifications).toBe(1);
    expect(ours(sink, polled.id)[0]!.body.message.events).toHaveLength(3);
    expect(polls).toBeGreaterThanOrEqual(4); // one per resource at least
    expect(records).toBeGreaterThanOrEqual(3);

    // The counters move when the activities finish, a moment after the fakes saw the requests.
    let after = await scrape();
    await until(async () => {
      after = await scrape();
      const d = delta(before, after);
      return (
        d.count('element_events_poll_duration_seconds', { element: 'insightly' }) === polls &&
        d.value('element_events_notifications_total', { element: 'freshbooksv2', outcome: 'delivered' }) === webhookNotifications &&
        d.value('element_events_notifications_total', { element: 'insightly', outcome: 'delivered' }) === pollNotifications
      );
    }, 'the counters to reach what the fakes saw');
    const d = delta(before, after);
    const moved = {
      polls: d.count('element_events_poll_duration_seconds', { element: 'insightly', outcome: 'ok' }),
      pollLags: d.count('element_events_poll_lag_seconds', { element: 'insightly' }),
      pollRecordCounts: d.count('element_events_poll_records', { element: 'insightly' }),
      records: d.sum('element_events_poll_records', { element: 'insightly' }),
      insightlyDelivered: d.value('element_events_notifications_total', { element: 'insightly', outcome: 'delivered' }),
      insightly2xx: d.value('element_events_delivery_attempts_total', { element: 'insightly', status_class: '2xx' }),
      insightlyLatencies: d.count('element_events_delivery_latency_seconds', { element: 'insightly' }),
      webhooksReceived: d.value('element_events_webhooks_received_total', { element: 'freshbooksv2', kind: 'notification' }),
      verificationsReceived: d.value('element_events_webhooks_received_total', { element: 'freshbooksv2', kind: 'verification' }),
      refusedBadSignature: d.value('element_events_webhooks_refused_total', { element: 'freshbooksv2', reason: 'bad_signature' }),
      refusedMalformed: d.value('element_events_webhooks_refused_total', { element: 'freshbooksv2', reason: 'malformed' }),
      refusedNotFound: d.value('element_events_webhooks_refused_total', { element: 'freshbooksv2', reason: 'not_found' }),
      refusedUnknownElement: d.value('element_events_webhooks_refused_total', { element: 'other', reason: 'not_found' }),
      freshbooksDelivered: d.value('element_events_notifications_total', { element: 'freshbooksv2', outcome: 'delivered' }),
      freshbooks2xx: d.value('element_events_delivery_attempts_total', { element: 'freshbooksv2', status_class: '2xx' }),
      freshbooksLatencies: d.count('element_events_delivery_latency_seconds', { element: 'freshbooksv2' }),
      failed: d.value('element_events_notifications_total', { outcome: 'failed' }),
      notAccepted: ['3xx', '4xx', '5xx', 'error'].reduce(
        (sum, status_class) => sum + d.value('element_events_delivery_attempts_total', { status_class }),
        0,
      ),
    };
    expect(moved).toEqual({
      polls,
      pollLags: polls,
      pollRecordCounts: polls,
      records,
      insightlyDelivered: 1,
      insightly2xx: 1,
      insightlyLatencies: 1,
      webhooksReceived: 1,
      verificationsReceived: verified,
      refusedBadSignature: 1,
      refusedMalformed: 1,
      refusedNotFound: verificationsNotFound,
      refusedUnknownElement: 1,
      freshbooksDelivered: 1,
      freshbooks2xx: 1,
      freshbooksLatencies: 1,
      failed: 0,
      notAccepted: 0,
    });
    expect(verified).toBeGreaterThanOrEqual(FRESHBOOKS_CALLBACKS);
    // Latencies are real durations: positive, and under the time this test took.
    expect(d.sum('element_events_delivery_latency_seconds', { element: 'freshbooksv2' })).toBeGreaterThan(0);
    expect(d.sum('element_events_poll_duration_seconds', { element: 'insightly' })).toBeGreaterThan(0);
    expectNoIdentifyingLabels(after);
    expect((await call(stack, 'DELETE', `/instances/${hooked.id}`)).status).toBe(200);
    report('metrics after a poll and a webhook', { ...moved, families: after.families.length, samples: after.sampleCount() });
  });

  test('a failing callback moves the failure counters: attempts by status class, failed once its schedule ran out, gone on 410', async () => {
    await withSink(async (failing) => {
      failing.down = 500;
      const created = await verifiedFreshBooksInstance(failing.url);
      const before = await scrape();
      expect(await stack.freshbooks.sendWebhook('client.update', 2002, {}, { uri: created.uri })).toEqual([200]);
      const maxAttempts = Number(FAST_SCHEDULE.DELIVERY_MAX_ATTEMPTS);
      await failing.waitFor(() => ours(failing, created.id).length >= maxAttempts, 30_000, 'every attempt of the schedule');
      let after = before;
      await until(async () => {
        after = await scrape();
        return delta(before, after).value('element_events_notifications_total', { element: 'freshbooksv2', outcome: 'failed' }) >= 1;
      }, 'the failed notification counted');

      // A 410 stops at once: gone, and the instance turns its events off.
      failing.down = 410;
      expect(await stack.freshbooks.sendWebhook('client.update', 2003, {}, { uri: created.uri })).toEqual([200]);
      await until(async () => {
        after = await scrape();
        return delta(before, after).value('element_events_notifications_total', { element: 'freshbooksv2', outcome: 'gone' }) >= 1;
      }, 'the gone notification counted');

      const d = delta(before, after);
      const moved = {
        posted: ours(failing, created.id).length,
        attempts5xx: d.value('element_events_delivery_attempts_total', { element: 'freshbooksv2', status_class: '5xx' }),
        attempts4xx: d.value('element_events_delivery_attempts_total', { element: 'freshbooksv2', status_class: '4xx' }),
        attempts2xx: d.value('element_events_delivery_attempts_total', { element: 'freshbooksv2', status_class: '2xx' }),
        failed: d.value('element_events_notifications_total', { element: 'freshbooksv2', outcome: 'failed' }),
        gone: d.value('element_events_notifications_total', { element: 'freshbooksv2', outcome: 'gone' }),
        delivered: d.value('element_events_notifications_total', { element: 'freshbooksv2', outcome: 'delivered' }),
        latencies: d.count('element_events_delivery_latency_seconds', { element: 'freshbooksv2' }),
      };
      expect(moved).toEqual({
        posted: maxAttempts + 1,
        attempts5xx: maxAttempts,
        attempts4xx: 1,
        attempts2xx: 0,
        failed: 1,
        gone: 1,
        delivered: 0,
        latencies: 0,
      });
      expectNoIdentifyingLabels(after);
      await call(stack, 'DELETE', `/instances/${created.id}`);
      report('metrics with a failing callback', { maxAttempts, ...moved });
    });
  });

  test('scrapes at once share one count of instances, and counts are reused for a few seconds', async () => {
    const counts = () => stack.temporalCalls.filter((m) => m.endsWith('/CountWorkflowExecutions')).length;
    await sleep(INSTANCE_COUNTS_TTL_MS); // whatever was cached has expired
    const first = counts();
    const started = Date.now();
    await Promise.all(Array.from({ length: 10 }, () => scrape()));
    const concurrent = counts() - first;
    for (let i = 0; i < 10; i++) await scrape();
    const elapsedMs = Date.now() - started;
    const all = counts() - first;
    // Two counts per element per computation, one computation per TTL at most.
    const perComputation = 2 * elements.size;
    expect(concurrent).toBe(perComputation);
    expect(all).toBeLessThanOrEqual(perComputation * (1 + Math.floor(elapsedMs / INSTANCE_COUNTS_TTL_MS)));
    report('instance counts for 20 scrapes', {
      concurrentScrapes: 10,
      countsForThem: concurrent,
      sequentialScrapes: 10,
      countsInAll: all,
      elapsedMs,
    });
  });

  test("npm run worker serves its metrics on a port of its own (operator token), and the SDK's worker metrics on another", async () => {
    const port = await freePort();
    const sdkPort = await freePort();
    const child: ChildProcess = await stack.spawnWorker({ WORKER_METRICS_PORT: String(port), TEMPORAL_SDK_METRICS_PORT: String(sdkPort) });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const url = `http://127.0.0.1:${port}/metrics`;
      await until(
        () =>
          get(url).then(
            () => true,
            () => false,
          ),
        'the worker metrics port',
        60_000,
      );
      const none = await get(url);
      const wrong = await get(url, 'Bearer not-the-operator-token-at-all');
      const other = await get(`http://127.0.0.1:${port}/elements/api-v2/instances`, `Bearer ${OPERATOR_TOKEN}`);
      const worker = await scrapeAt(url);
      expect(none.status).toBe(401);
      expect(wrong.status).toBe(401);
      expect(other.status).toBe(404);
      const names = worker.families.map((f) => f.name);
      expect(names).toEqual(expect.arrayContaining(['element_events_delivery_attempts_total', 'element_events_poll_duration_seconds']));
      expect(names).toContain('element_events_process_cpu_seconds_total');
      // Instances are counted by the API; a worker alone does not ask Temporal for them.
      expect(worker.families.find((f) => f.name === 'element_events_instances')?.metrics ?? []).toEqual([]);

      // The SDK's exporter: Temporal's own names, with Prometheus' suffixes.
      let sdk: PrometheusFamily[] = [];
      await until(async () => {
        const res = await get(`http://127.0.0.1:${sdkPort}/metrics`).catch(() => undefined);
        sdk = res?.status === 200 ? parsePrometheusTextFormat(res.text) : [];
        return sdk.some((f) => f.type === 'COUNTER') && sdk.some((f) => f.type === 'HISTOGRAM');
      }, "the SDK's metrics");
      for (const f of sdk) expect(f.name).toMatch(/^temporal_/);
      for (const f of sdk.filter((x) => x.type === 'COUNTER')) expect(f.name).toMatch(/_total$/);
      const durations = sdk.filter((f) => f.type === 'HISTOGRAM' && /latency/.test(f.name));
      for (const f of durations) expect(f.name).toMatch(/_seconds$/);
      report('worker-only metrics', {
        noToken: none.status,
        wrongToken: wrong.status,
        otherPath: other.status,
        workerFamilies: worker.families.length,
        sdkFamilies: sdk.length,
        sdkLatencyHistograms: durations.length,
      });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
