import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { instanceCountsNow } from './instance-counts';

/**
 * Every metric this service exports, on a registry of its own (not prom-client's global one, which a
 * dependency could fill). In one process (`npm start`) the API and the worker count into it together.
 *
 * Labels come only from small closed sets, so a series count cannot grow with traffic: the element key
 * (of the registry, `other` for anything else), a reason, an HTTP status class, an outcome, an events
 * state. Never an instance id, a URL or an account: those are what a hostile or busy caller controls.
 */
export const registry = new Registry();

// The process itself (CPU, memory, event-loop lag, GC), under our prefix so dashboards find it with ours.
collectDefaultMetrics({ register: registry, prefix: 'element_events_' });

export const webhooksReceived = new Counter({
  name: 'element_events_webhooks_received_total',
  help: 'Provider webhooks accepted (answered 2xx), by element and kind (notification, verification)',
  labelNames: ['element', 'kind'] as const,
  registers: [registry],
});

export const webhooksRefused = new Counter({
  name: 'element_events_webhooks_refused_total',
  help:
    'Provider webhooks refused, by element and reason: malformed (400), bad_signature (401), not_found (404: ' +
    'no such element or instance), too_large (413), rate_limited (429), unavailable (503: not recorded in time), ' +
    'busy (503: too many reads of instances not known to be running), error',
  labelNames: ['element', 'reason'] as const,
  registers: [registry],
});

export const deliveryAttempts = new Counter({
  name: 'element_events_delivery_attempts_total',
  help: 'Delivery attempts on record, by element and answer: 2xx, 3xx, 4xx, 5xx, or error (no answer, address refused)',
  labelNames: ['element', 'status_class'] as const,
  registers: [registry],
});

export const notifications = new Counter({
  name: 'element_events_notifications_total',
  help:
    'Notifications settled, by element and outcome: delivered (accepted), gone (the callback answered 410), ' +
    'failed (the last attempt of its schedule failed)',
  labelNames: ['element', 'outcome'] as const,
  registers: [registry],
});

export const deliveryHeld = new Counter({
  name: 'element_events_delivery_held_total',
  help:
    'Attempts the endpoint gate held back without posting (they do not count against the schedule), by element and ' +
    "reason: circuit_open (the callback's circuit is open after failing for ENDPOINT_OPEN_AFTER_SECONDS), rate (maxRate)",
  labelNames: ['element', 'reason'] as const,
  registers: [registry],
});

export const endpointProbes = new Counter({
  name: 'element_events_endpoint_probes_total',
  help: "Probes of an open circuit's callback (the one attempt let through per probe interval), by element",
  labelNames: ['element'] as const,
  registers: [registry],
});

export const deliveryLatency = new Histogram({
  name: 'element_events_delivery_latency_seconds',
  help: 'From hand-off to delivery (the batch started) to the callback accepting the notification, retries included',
  labelNames: ['element'] as const,
  // From a prompt first attempt to the end of Cloud Elements' four-day schedule.
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400, 345_600],
  registers: [registry],
});

export const pollDuration = new Histogram({
  name: 'element_events_poll_duration_seconds',
  help: 'How long one poll of one resource took (reading every page and handing the notifications over), by element and outcome (ok, error)',
  labelNames: ['element', 'outcome'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  registers: [registry],
});

export const pollLag = new Histogram({
  name: 'element_events_poll_lag_seconds',
  help: 'How late a poll started against when it was due (its refresh interval), by element: busy workers or a backed-up task queue',
  labelNames: ['element'] as const,
  buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
  registers: [registry],
});

export const pollRecords = new Histogram({
  name: 'element_events_poll_records',
  help: 'Records one poll of one resource read from the provider, by element',
  labelNames: ['element'] as const,
  buckets: [0, 1, 10, 100, 1000, 10_000, 100_000],
  registers: [registry],
});

export const instances = new Gauge({
  name: 'element_events_instances',
  help:
    'Running instances of this task queue by element and events state (on, off), from Temporal visibility, ' +
    'read at most every few seconds; the same in every API process',
  labelNames: ['element', 'events'] as const,
  registers: [registry],
  async collect() {
    // Read first, then replace: two scrapes at once must not reset each other's values mid-count.
    const counts = await instanceCountsNow();
    this.reset();
    for (const { element, events, count } of counts) this.set({ element, events }, count);
  },
});
