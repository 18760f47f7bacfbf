import { ApplicationFailure } from '@temporalio/common';
import { loadConfig } from '../../src/config';
import { logger } from '../../src/logger';
import { countAttempt, countGate, failedAttemptOf } from '../../src/metrics/delivery';
import { elementLabel, statusClass } from '../../src/metrics/labels';
import { deliveryAttempts, deliveryHeld, deliveryLatency, endpointProbes, notifications, registry } from '../../src/metrics/metrics';
import { sdkMetricsExporter } from '../../src/metrics/sdk';
import { serveWorkerMetrics } from '../../src/metrics/server';

/** A labelled series' value now, read back from prom-client. */
async function valueOf(
  metric: { get(): Promise<{ values: { labels: object; value: number; metricName?: string }[] }> },
  labels: object,
  metricName?: string,
) {
  const { values } = await metric.get();
  const found = values.find(
    (v) => (metricName === undefined || v.metricName === metricName) && JSON.stringify(v.labels) === JSON.stringify(labels),
  );
  return found?.value ?? 0;
}

const production = { TEMPORAL_ADDRESS: '127.0.0.1:1', ELEMENTS_USER_SECRET: 'u', ELEMENTS_ORGANIZATION_SECRET: 'o' };

describe('metric labels', () => {
  test('the element label is a registry key or "other"; a status is its class or "error"', () => {
    const labels = {
      insightly: elementLabel('insightly'),
      freshbooks: elementLabel('freshbooksv2'),
      made_up: elementLabel('388708081'),
      missing: elementLabel(undefined),
    };
    expect(labels).toEqual({ insightly: 'insightly', freshbooks: 'freshbooksv2', made_up: 'other', missing: 'other' });
    expect([200, 204, 302, 410, 429, 503, undefined, 0, 999, 20.5].map(statusClass)).toEqual([
      '2xx',
      '2xx',
      '3xx',
      '4xx',
      '4xx',
      '5xx',
      'error',
      'error',
      'error',
      'error',
    ]);
  });
});

describe('counting a delivery attempt', () => {
  test('delivered, gone and failed (only at the last attempt) each count once; attempts by class; latency when handed over', async () => {
    const element = 'insightly';
    const read = async () => ({
      attempts2xx: await valueOf(deliveryAttempts, { element, status_class: '2xx' }),
      attempts5xx: await valueOf(deliveryAttempts, { element, status_class: '5xx' }),
      attempts4xx: await valueOf(deliveryAttempts, { element, status_class: '4xx' }),
      attemptsError: await valueOf(deliveryAttempts, { element, status_class: 'error' }),
      delivered: await valueOf(notifications, { element, outcome: 'delivered' }),
      failed: await valueOf(notifications, { element, outcome: 'failed' }),
      gone: await valueOf(notifications, { element, outcome: 'gone' }),
      latencies: await valueOf(deliveryLatency, { element }, 'element_events_delivery_latency_seconds_count'),
    });
    const bucket = async (le: number) =>
      (await deliveryLatency.get()).values.find(
        (v) =>
          v.metricName === 'element_events_delivery_latency_seconds_bucket' &&
          v.labels.element === element &&
          (v.labels as { le?: number }).le === le,
      )?.value ?? 0;
    const before = await read();
    const bucketsBefore = [await bucket(1), await bucket(2.5)];
    countAttempt({ elementKey: element, delivered: true, status: 200, handedAtMs: Date.now() - 1500, last: false });
    countAttempt({ elementKey: element, delivered: true, status: 201, last: true }); // no hand-off time: no latency
    countAttempt({ elementKey: element, delivered: false, status: 503, last: false });
    countAttempt({ elementKey: element, delivered: false, status: 500, last: true });
    countAttempt({ elementKey: element, delivered: false, status: 410, last: false });
    countAttempt({ elementKey: element, delivered: false, last: true }); // no answer, last attempt
    const after = await read();
    const moved = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
    expect(moved).toEqual({
      attempts2xx: 2,
      attempts5xx: 2,
      attempts4xx: 1,
      attemptsError: 1,
      delivered: 2,
      failed: 2,
      gone: 1,
      latencies: 1,
    });
    // Handed over 1.5 s before it was accepted: in the 2.5 s bucket, not the 1 s one.
    expect([(await bucket(1)) - bucketsBefore[0]!, (await bucket(2.5)) - bucketsBefore[1]!]).toEqual([0, 1]);
    expect(await registry.metrics()).toContain('element_events_notifications_total{element="insightly",outcome="gone"}');
  });

  test("the endpoint gate's holds count by reason, and its probes; a plain go counts nothing", async () => {
    const element = 'freshbooksv2';
    const read = async () => [
      await valueOf(deliveryHeld, { element, reason: 'circuit_open' }),
      await valueOf(deliveryHeld, { element, reason: 'rate' }),
      await valueOf(endpointProbes, { element }),
    ];
    const before = await read();
    countGate(element, { go: false, heldUntilMs: Date.now() + 60_000, by: 'circuit' });
    countGate(element, { go: false, heldUntilMs: Date.now() + 60_000, by: 'circuit' });
    countGate(element, { go: false, heldUntilMs: Date.now() + 100, by: 'rate' });
    countGate(element, { go: true, probe: true });
    countGate(element, { go: true });
    const after = await read();
    expect(after.map((v, i) => v - before[i]!)).toEqual([2, 1, 1]);
  });

  test('an attempt the endpoint gate held, or one for a deleted instance, is no attempt', () => {
    const failure = (details: object) => ApplicationFailure.create({ message: 'x', type: 'T', details: [details], nonRetryable: true });
    expect(failedAttemptOf(failure({ heldUntilMs: 1 }))).toBeUndefined();
    expect(failedAttemptOf(failure({ instanceDeleted: true }))).toBeUndefined();
    expect(failedAttemptOf(failure({ status: 503, url: 'http://x' }))).toEqual({ status: 503 });
    expect(failedAttemptOf(new Error('timed out'))).toEqual({ status: undefined });
  });
});

describe('metrics ports', () => {
  test("the worker's port and the SDK's are off unless set, and on loopback unless told otherwise", () => {
    const config = loadConfig(production);
    expect(config.WORKER_METRICS_PORT).toBeUndefined();
    expect(sdkMetricsExporter(config)).toBeUndefined();
    const on = loadConfig({ ...production, TEMPORAL_SDK_METRICS_PORT: '9464', WORKER_METRICS_PORT: '9465' });
    expect(on.WORKER_METRICS_HOST).toBe('127.0.0.1');
    expect(sdkMetricsExporter(on)).toEqual({
      prometheus: { bindAddress: '127.0.0.1:9464', countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true },
    });
    expect(sdkMetricsExporter({ TEMPORAL_SDK_METRICS_PORT: 9464, TEMPORAL_SDK_METRICS_HOST: '::1' })).toMatchObject({
      prometheus: { bindAddress: '[::1]:9464' },
    });
    expect(() => loadConfig({ ...production, WORKER_METRICS_PORT: '70000' })).toThrow(/WORKER_METRICS_PORT/);
  });

  test('a worker metrics port without OPERATOR_TOKEN is refused at start, not served open', async () => {
    const config = loadConfig({ ...production, WORKER_METRICS_PORT: '9465' });
    expect(config.OPERATOR_TOKEN).toBeUndefined();
    await expect(serveWorkerMetrics(config, logger)).rejects.toThrow(/OPERATOR_TOKEN/);
  });
});
