import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createDeliveryActivities } from '../../src/activities/deliver';
import { Sealer } from '../../src/secrets/sealer';
import { workflowClientInterceptors } from '../../src/tracing/client-interceptors';
import { activeTraceparent } from '../../src/tracing/traceparent';
import { startTracing } from '../../src/tracing/tracing';
import { workerTracingOptions } from '../../src/tracing/worker-options';
import type { DeliveryInput } from '../../src/workflows/types';
import { CallbackSink } from '../fakes/callback-sink';
import { OtlpReceiver } from '../fakes/otlp-receiver';
import { report } from '../integration/harness';

// A real callback receiver and a real OTLP/HTTP collector (in memory), on loopback.
const sink = new CallbackSink();
const otlp = new OtlpReceiver();
beforeAll(async () => {
  await sink.start();
  await otlp.start();
});
afterAll(async () => {
  await sink.stop();
  await otlp.stop();
});

const sealer = new Sealer(randomBytes(32));
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
// The receiver's own token in its URL: a span must not carry it.
const CALLBACK_TOKEN = 'receiver-token-in-query';

const input = (eventId: string): DeliveryInput => ({
  eventId,
  instanceId: 7,
  elementKey: 'freshbooksv2',
  accountId: 'acct',
  callbackUrl: `${sink.url}?token=${CALLBACK_TOKEN}`,
  firstRetrySeconds: 60,
  maxAttempts: 1,
  body: JSON.stringify({ message: { eventId, events: [] } }),
  events: 0,
});

async function attempt(deliver: ReturnType<typeof createDeliveryActivities>['deliverNotification'], eventId: string) {
  try {
    return await new MockActivityEnvironment(undefined, { logger: quiet }).run(deliver, input(eventId));
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
}

test('tracing off: nothing installed, no traceparent on a callback POST', async () => {
  const tracing = startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: undefined, OTEL_SERVICE_NAME: undefined }, 'worker');
  expect(tracing).toBeUndefined();
  expect(workerTracingOptions(tracing)).toEqual({});
  expect(workflowClientInterceptors(tracing)).toEqual([]);
  expect(activeTraceparent()).toBeUndefined();

  const { deliverNotification } = createDeliveryActivities({ sealer, callbackPolicy: { publicOnly: false } });
  await attempt(deliverNotification, 'untraced');
  const got = sink.received.find((r) => r.body.message.eventId === 'untraced')!;
  expect(got.headers.traceparent).toBeUndefined();
  expect(otlp.spans).toHaveLength(0);
});

test('tracing on: each callback POST is a CLIENT span whose traceparent the callback receives, failures marked', async () => {
  const tracing = startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: 'callbacks-under-test' }, 'worker')!;
  const { deliverNotification } = createDeliveryActivities({ sealer, callbackPolicy: { publicOnly: false }, tracer: tracing.tracer });
  expect(await attempt(deliverNotification, 'traced-ok')).toMatchObject({ status: 200 });
  sink.answerNext(500);
  const failed = await attempt(deliverNotification, 'traced-500');
  expect(failed).toBeInstanceOf(ApplicationFailure);
  await tracing.shutdown(); // flushes the batch

  for (const [eventId, status] of [
    ['traced-ok', 200],
    ['traced-500', 500],
  ] as const) {
    const got = sink.received.find((r) => r.body.message.eventId === eventId)!;
    const [, traceId, spanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(got.headers.traceparent)) ?? [];
    const span = otlp.spans.find((s) => s.spanId === spanId);
    expect(span).toMatchObject({
      service: 'callbacks-under-test',
      traceId,
      name: 'POST callback',
      kind: 3, // CLIENT
      attributes: { 'element_events.event_id': eventId, 'http.response.status_code': status },
    });
    // An error span names the failure's type, never its text.
    expect({ code: 0, ...span!.status }).toEqual(status === 200 ? { code: 0 } : { code: 2, message: 'CallbackRefused' });
  }
  expect(otlp.bodies.join('\n')).not.toContain(CALLBACK_TOKEN);
  report('callback tracing', {
    'spans exported': otlp.spans.length,
    'callbacks with traceparent': sink.received.filter((r) => r.headers.traceparent).length,
    'callbacks without (tracing off)': sink.received.filter((r) => !r.headers.traceparent).length,
  });
});

test("failures' text never leaves the process: a span keeps the error's type, not its message or stack", async () => {
  const tracing = startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: 'redaction-under-test' }, 'worker')!;
  // What the SDK's interceptors do with an activity's error, which may quote a provider's answer.
  const span = tracing.tracer.startSpan('RunActivity:pollResource');
  const quoted = 'provider answered: {"EMAIL_ADDRESS":"grace.redacted@example.com"}';
  span.recordException(new TypeError(quoted));
  span.setStatus({ code: 2, message: quoted });
  span.end();
  await tracing.shutdown();
  const exported = otlp.spans.find((s) => s.name === 'RunActivity:pollResource');
  const body = otlp.bodies.join('\n');
  report('span redaction', {
    'spans exported': exported ? 1 : 0,
    'bodies with the quoted record': body.includes('grace.redacted') ? 1 : 0,
  });
  expect(exported).toMatchObject({ service: 'redaction-under-test', status: { code: 2 } });
  expect(body).not.toContain('grace.redacted@example.com');
  expect(body).toContain('TypeError');
});
