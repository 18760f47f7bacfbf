import type { EndpointHealth, EndpointOutcomes, EndpointThresholds } from './types';

/**
 * Endpoint health of an instance's callback URL: the state machine the instance workflow runs on the
 * outcomes its workers report. Pure (no commands): the workflow's handlers call it with workflow time.
 */

/** Distinct failed notifications kept (and needed before the circuit opens). */
export const ENDPOINT_FAILED_IDS_KEPT = 5;

export interface EndpointLimits {
  openAfterMs: number;
  probeMs: number;
  maxProbeMs: number;
  disableAfterMs: number;
}

/** Defaults: open after 1 h of only failures across ≥ 5 notifications; probe after 1 min, doubling to 1 h; events off after 5 days. */
export function endpointLimits(t: EndpointThresholds = {}): EndpointLimits {
  const probeMs = (t.probeSeconds ?? 60) * 1000;
  return {
    openAfterMs: (t.openAfterSeconds ?? 3600) * 1000,
    probeMs,
    maxProbeMs: Math.max(probeMs, (t.maxProbeSeconds ?? 3600) * 1000),
    disableAfterMs: (t.disableAfterHours ?? 120) * 3_600_000,
  };
}

export const healthyEndpoint = (nowMs: number): EndpointHealth => ({ state: 'healthy', sinceMs: nowMs, failedEventIds: [], failures: 0 });

/** A recovering endpoint turns healthy after this long with no failure (the first probe interval). */
export const recoveredAtMs = (e: EndpointHealth, limits: EndpointLimits): number =>
  e.state === 'recovering' ? Math.max(e.sinceMs, e.lastFailureMs ?? 0) + limits.probeMs : Infinity;

/** Applies a worker's report; returns the endpoint's health after it. */
export function applyOutcomes(
  prev: EndpointHealth | undefined,
  o: EndpointOutcomes,
  nowMs: number,
  limits: EndpointLimits,
): EndpointHealth {
  const e: EndpointHealth = { ...(prev ?? healthyEndpoint(nowMs)) };
  e.failedEventIds = [...e.failedEventIds];
  const lastSuccess = o.successes ? (o.lastSuccessMs ?? nowMs) : undefined;
  const lastFailure = o.failures ? (o.lastFailureMs ?? nowMs) : undefined;
  if (lastSuccess !== undefined) e.lastSuccessMs = Math.max(e.lastSuccessMs ?? 0, lastSuccess);

  // An accepted attempt after the last failure: the callback works.
  const succeededLast = lastSuccess !== undefined && (lastFailure === undefined || lastSuccess > lastFailure);
  if (succeededLast) {
    if (e.state === 'failing') return { ...healthyEndpoint(nowMs), lastSuccessMs: e.lastSuccessMs, lastFailureMs: e.lastFailureMs };
    if (e.state === 'open') {
      // The probe (or an attempt that was on its way) was accepted: drain the backlog at a bounded rate.
      return { ...e, state: 'recovering', sinceMs: nowMs, nextProbeAtMs: undefined, probeIntervalMs: undefined };
    }
  }
  if (lastFailure !== undefined) {
    e.lastFailureMs = Math.max(e.lastFailureMs ?? 0, lastFailure);
    e.failures += o.failures;
    for (const id of o.failedEventIds)
      if (e.failedEventIds.length < ENDPOINT_FAILED_IDS_KEPT && !e.failedEventIds.includes(id)) e.failedEventIds.push(id);
    if (e.state === 'healthy') {
      Object.assign(e, { state: 'failing', sinceMs: nowMs, failingSinceMs: o.firstFailureMs ?? lastFailure, failures: o.failures });
      e.failedEventIds = o.failedEventIds.slice(0, ENDPOINT_FAILED_IDS_KEPT);
    } else if (e.state === 'recovering') {
      // Failing again while draining: the circuit opens again, probing at the interval it had reached.
      Object.assign(e, { state: 'open', sinceMs: nowMs, openedAtMs: nowMs, nextProbeAtMs: nowMs + limits.probeMs });
    }
  }
  if (
    e.state === 'failing' &&
    e.failedEventIds.length >= ENDPOINT_FAILED_IDS_KEPT &&
    (e.lastFailureMs ?? 0) - (e.failingSinceMs ?? nowMs) >= limits.openAfterMs
  ) {
    Object.assign(e, {
      state: 'open',
      sinceMs: nowMs,
      openedAtMs: nowMs,
      probeIntervalMs: limits.probeMs,
      nextProbeAtMs: nowMs + limits.probeMs,
    });
  }
  if (e.state === 'recovering' && nowMs >= recoveredAtMs(e, limits)) return endpointHealed(e, nowMs);
  return e;
}

/** Recovering long enough with no failure: healthy again. */
export const endpointHealed = (e: EndpointHealth, nowMs: number): EndpointHealth => ({
  ...healthyEndpoint(nowMs),
  lastSuccessMs: e.lastSuccessMs,
  lastFailureMs: e.lastFailureMs,
});

/** Failing (or open) this long: events are to be turned off. */
export const endpointDead = (e: EndpointHealth | undefined, nowMs: number, limits: EndpointLimits): boolean =>
  !!e && (e.state === 'failing' || e.state === 'open') && nowMs - (e.failingSinceMs ?? nowMs) >= limits.disableAfterMs;

/** Whether a probe may be granted now. */
export const probeDue = (e: EndpointHealth | undefined, nowMs: number): boolean => e?.state === 'open' && nowMs >= (e.nextProbeAtMs ?? 0);

/** Grants the probe: the next one after the current interval, which doubles up to the maximum. */
export function grantProbe(e: EndpointHealth, nowMs: number, limits: EndpointLimits): EndpointHealth {
  const interval = e.probeIntervalMs ?? limits.probeMs;
  return { ...e, probeGrantedAtMs: nowMs, nextProbeAtMs: nowMs + interval, probeIntervalMs: Math.min(interval * 2, limits.maxProbeMs) };
}
