import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { logger } from '../../src/logger';
import { dataConverterFor, FAILURE_CONVERTER_PATH } from '../../src/temporal/data-converter';
import { installTemporalLogger } from '../../src/temporal/logging';
import { TRACING_WORKFLOW_MODULES } from '../../src/tracing/worker-options';
import { instanceWorkflowId } from '../../src/workflows/ids';
import { OtlpReceiver, type ReceivedSpan } from '../fakes/otlp-receiver';
import {
  createInstance,
  freshbooksSeedBody,
  notificationWorkflowId,
  report,
  startStack,
  TEST_SECRETS_KEY,
  until,
  waitForVerified,
  type Stack,
} from './harness';

// The harness's payload keys: the histories this test records are encrypted as the app's are.
const dataConverter = dataConverterFor({ SECRETS_KEY: TEST_SECRETS_KEY, DATA_DIR: '.' });

jest.setTimeout(180_000);
installTemporalLogger(logger);

const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
// What the webhook and the instance carry that no span may: a record field, the keys, the business.
const EMAIL = 'traced.contact@example.org';
const SIGNATURE_KEY = 'trace-test-signature-key';
// The FreshBooks fake's business: the instance's configuration names it.
const BUSINESS = 'MyBiz';
const OBJECT_ID = 777_123_456;
const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 };
const RECEIVER_ROUTE = '/elements/api-v2/events/:elementKey/:instanceId';
/** A replay worker's sink for workflow spans: replay calls none, but the interceptors look it up. */
const replaySinks = { exporter: { export: { fn: () => undefined } } };

describe('tracing: one webhook, one trace from the receiver to the callback POST', () => {
  let stack: Stack;
  let otlp: OtlpReceiver;
  let tracedBundle: string;
  /** The traced instance's and delivery batch's workflow ids, for the replay test. */
  const recorded: string[] = [];

  beforeAll(async () => {
    otlp = new OtlpReceiver();
    await otlp.start();
    // The suite's shared bundle has no workflow interceptors: a traced worker's bundle is built with them.
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      workflowInterceptorModules: TRACING_WORKFLOW_MODULES,
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: silent,
    });
    tracedBundle = path.join(process.env.TEST_DATA_DIR!, `traced-workflow-bundle-${randomUUID()}.js`);
    writeFileSync(tracedBundle, code);
    const shared = process.env.WORKFLOW_BUNDLE_PATH;
    process.env.WORKFLOW_BUNDLE_PATH = tracedBundle;
    try {
      stack = await startStack({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } });
    } finally {
      process.env.WORKFLOW_BUNDLE_PATH = shared;
    }
  });
  afterAll(async () => {
    await stack?.stop();
    await otlp?.stop();
  });

  /** From a span up to its trace's root, through the parents the receiver holds (stops at one it lacks). */
  function chainUp(spanId: string, traceId: string): ReceivedSpan[] {
    const spans = otlp.trace(traceId);
    const chain: ReceivedSpan[] = [];
    for (let span = spans.find((s) => s.spanId === spanId); span; span = spans.find((s) => s.spanId === span!.parentSpanId)) {
      chain.push(span);
      if (!span.parentSpanId) break;
    }
    return chain;
  }

  test('the callback gets a traceparent whose trace holds every span from the receiver request to the POST', async () => {
    const { freshbooks, sink } = stack;
    const created = await createInstance(
      stack,
      freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url, signatureKey: SIGNATURE_KEY, businessName: BUSINESS }),
    );
    const ours = () => freshbooks.callbacks().filter((c) => c.uri.endsWith(`/events/freshbooksv2/${created.id}`));
    await sink.waitFor(() => ours().length === 18 && ours().every((c) => c.verified), 30_000, 'verified callbacks');
    await waitForVerified(stack, created.id, 18);

    expect(await freshbooks.sendWebhook('invoice.create', OBJECT_ID, { contact_email: EMAIL })).toEqual([200]);
    const delivered = () => sink.accepted().filter((r) => r.body.message.instanceId === created.id);
    await sink.waitFor(() => delivered().length === 1, 30_000, 'the notification');
    const notification = delivered()[0]!;
    expect(notification.body.message.events[0]).toMatchObject({ objectId: String(OBJECT_ID), eventType: 'CREATED' });

    // W3C trace context: version 00, a 32-hex trace id, the POST span's 16-hex id, sampled.
    const traceparent = String(notification.headers.traceparent ?? '');
    const [, traceId, postSpanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(traceparent) ?? [];
    expect(traceId).toBeDefined();

    // Spans arrive in batches, a few seconds apart: wait until the chain reaches its root.
    const complete = () => {
      const chain = chainUp(postSpanId!, traceId!);
      return chain.length > 0 && !chain[chain.length - 1]!.parentSpanId;
    };
    await until(complete, 'the whole chain from the callback POST to its root', 60_000, async () =>
      chainUp(postSpanId!, traceId!)
        .map((s) => `${s.service}:${s.name}`)
        .join(' <- '),
    );
    const chain = chainUp(postSpanId!, traceId!);
    expect(chain.map((s) => [s.service, s.name])).toEqual([
      ['element-events-worker', 'POST callback'],
      ['element-events-worker', 'RunActivity:deliverFirstAttempts'],
      ['element-events-worker', 'StartActivity:deliverFirstAttempts'],
      ['element-events-worker', 'RunWorkflow:deliveryBatchWorkflow'],
      ['element-events-worker', 'StartWorkflow:deliveryBatchWorkflow'],
      ['element-events-worker', 'DispatchWebhooks'],
      ['element-events-api', `POST ${RECEIVER_ROUTE}`],
    ]);
    const [post, , , , , dispatch, request] = chain;
    expect(post).toMatchObject({ kind: SPAN_KIND.CLIENT, attributes: { 'http.response.status_code': 200 } });
    expect(post!.attributes['element_events.event_id']).toBe(notification.body.message.eventId);
    expect(dispatch!.attributes).toMatchObject({ 'element_events.instance_id': created.id, 'element_events.webhooks': 1 });
    expect(request).toMatchObject({
      kind: SPAN_KIND.SERVER,
      attributes: { 'http.route': RECEIVER_ROUTE, 'http.response.status_code': 200 },
    });

    // The update that carried the webhook is in the same trace (the instance's handling of updates is not
    // traced: src/tracing/workflow-interceptors.ts). Had the update not been answered in time, a signal
    // carried it, and its handler's span is in the trace, through the SDK's headers.
    const sent = (name: string) => otlp.trace(traceId!).find((s) => s.name === name);
    const carrier = () => sent('StartWorkflowUpdate:acceptWebhooks') ?? sent('HandleSignal:webhooks');
    await until(() => !!carrier(), 'the span of what carried the webhook', 30_000);
    const byUpdate = !!sent('StartWorkflowUpdate:acceptWebhooks');
    const carried = byUpdate ? sent('StartWorkflowUpdate:acceptWebhooks')! : sent('SignalWorkflow:webhooks')!;
    expect(carried).toMatchObject({ service: 'element-events-api', parentSpanId: request!.spanId });
    if (!byUpdate) expect(sent('HandleSignal:webhooks')).toMatchObject({ service: 'element-events-worker', parentSpanId: carried.spanId });
    // No span of a workflow's update or query handling is exported (they would not replay).
    expect(otlp.spans.filter((s) => /^(HandleUpdate|ValidateUpdate|HandleQuery):/.test(s.name))).toEqual([]);
    const trace = otlp.trace(traceId!);

    // What left for the collector names no record field, key, token, business or callback URL.
    const exported = otlp.bodies.join('\n');
    for (const secret of [EMAIL, SIGNATURE_KEY, BUSINESS, created.token, 'fb-client-secret', sink.url])
      expect(exported).not.toContain(secret);
    expect(otlp.refused).toEqual([]);

    const services = new Set(trace.map((s) => s.service));
    expect([...services].sort()).toEqual(['element-events-api', 'element-events-worker']);
    report('tracing', {
      'spans exported': otlp.spans.length,
      'trace ids': new Set(otlp.spans.map((s) => s.traceId)).size,
      'webhook trace spans': trace.length,
      'webhook by update': byUpdate ? 1 : 0,
      'chain to callback POST': chain.length,
      services: services.size,
      'callbacks with traceparent': delivered().filter((r) => r.headers.traceparent).length,
    });

    // Kept for the replay test below.
    recorded.push(instanceWorkflowId(String(created.id)), await notificationWorkflowId(stack, notification.body.message.eventId));
  });

  test('the workflow interceptors replay recorded histories, and traced histories replay without them', async () => {
    const dir = path.resolve(__dirname, '..', 'fixtures', 'histories');
    const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));
    for (const file of fixtures) {
      const history = historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
      await Worker.runReplayHistory(
        { workflowBundle: { codePath: tracedBundle }, sinks: replaySinks, dataConverter, replayName: file },
        history,
      );
    }
    // This test's own histories, made with tracing on: a worker with tracing off (the shared bundle) replays them too.
    expect(recorded).toHaveLength(2);
    for (const workflowId of recorded) {
      const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
      await Worker.runReplayHistory(
        { workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! }, dataConverter, replayName: workflowId },
        history,
      );
      await Worker.runReplayHistory(
        { workflowBundle: { codePath: tracedBundle }, sinks: replaySinks, dataConverter, replayName: workflowId },
        history,
      );
    }
    report('tracing replay', {
      'recorded histories with interceptors': fixtures.length,
      'traced histories without and with': recorded.length,
    });
  });
});
