import { applyOutcomes, endpointDead, endpointLimits, grantProbe, probeDue, recoveredAtMs } from '../../src/workflows/endpoint-health';
import type { EndpointHealth, EndpointOutcomes } from '../../src/workflows/types';

const limits = endpointLimits({ openAfterSeconds: 60, probeSeconds: 10, maxProbeSeconds: 40, disableAfterHours: 1 });
const failed = (ids: string[], atMs: number): EndpointOutcomes => ({
  failures: ids.length,
  successes: 0,
  failedEventIds: ids,
  firstFailureMs: atMs,
  lastFailureMs: atMs,
});
const accepted = (atMs: number): EndpointOutcomes => ({ failures: 0, successes: 1, failedEventIds: [], lastSuccessMs: atMs });

describe('endpoint health', () => {
  test('defaults: open after 1 h, probe after 1 min up to 1 h, events off after 5 days', () => {
    expect(endpointLimits()).toEqual({ openAfterMs: 3_600_000, probeMs: 60_000, maxProbeMs: 3_600_000, disableAfterMs: 432_000_000 });
  });

  test('opens only after the whole period of failures, across at least 5 notifications', () => {
    let e = applyOutcomes(undefined, failed(['a', 'b'], 0), 0, limits);
    expect(e.state).toBe('failing');
    // Long enough, but only 3 notifications.
    e = applyOutcomes(e, failed(['a', 'c'], 70_000), 70_000, limits);
    expect(e).toMatchObject({ state: 'failing', failedEventIds: ['a', 'b', 'c'], failures: 4 });
    e = applyOutcomes(e, failed(['d', 'e', 'f'], 71_000), 71_000, limits);
    expect(e).toMatchObject({ state: 'open', openedAtMs: 71_000, nextProbeAtMs: 81_000 });
    expect(e.failedEventIds).toHaveLength(5);
  });

  test('5 notifications failing for less than the period: still failing; a success: healthy', () => {
    let e = applyOutcomes(undefined, failed(['a', 'b', 'c', 'd', 'e'], 0), 0, limits);
    e = applyOutcomes(e, failed(['a'], 30_000), 30_000, limits);
    expect(e.state).toBe('failing');
    e = applyOutcomes(e, accepted(31_000), 31_000, limits);
    expect(e).toMatchObject({ state: 'healthy', failures: 0, failedEventIds: [] });
  });

  test('one probe per interval, doubling to the maximum; an accepted probe recovers, then healthy after a quiet interval', () => {
    let e: EndpointHealth = applyOutcomes(undefined, failed(['a', 'b', 'c', 'd', 'e'], 0), 0, limits);
    e = applyOutcomes(e, failed(['a'], 60_000), 60_000, limits);
    expect(e.state).toBe('open');
    expect(probeDue(e, 65_000)).toBe(false);
    expect(probeDue(e, 70_000)).toBe(true);
    e = grantProbe(e, 70_000, limits);
    expect(probeDue(e, 70_001)).toBe(false);
    expect(e.nextProbeAtMs).toBe(80_000);
    e = applyOutcomes(e, failed(['b'], 70_100), 70_100, limits);
    expect(e.state).toBe('open');
    e = grantProbe(e, 80_000, limits);
    expect(e.nextProbeAtMs).toBe(100_000);
    e = grantProbe(grantProbe(e, 100_000, limits), 140_000, limits);
    expect(e.nextProbeAtMs! - 140_000).toBe(40_000);
    e = applyOutcomes(e, accepted(140_200), 140_300, limits);
    expect(e.state).toBe('recovering');
    expect(recoveredAtMs(e, limits)).toBe(150_300);
    e = applyOutcomes(e, accepted(145_000), 145_000, limits);
    expect(e.state).toBe('recovering');
    e = applyOutcomes(e, accepted(151_000), 151_000, limits);
    expect(e.state).toBe('healthy');
  });

  test('a failure while recovering opens the circuit again', () => {
    let e = applyOutcomes(undefined, failed(['a', 'b', 'c', 'd', 'e'], 0), 0, limits);
    e = applyOutcomes(applyOutcomes(e, failed(['a'], 60_000), 60_000, limits), accepted(61_000), 61_000, limits);
    expect(e.state).toBe('recovering');
    e = applyOutcomes(e, failed(['f'], 62_000), 62_000, limits);
    expect(e).toMatchObject({ state: 'open', nextProbeAtMs: 72_000 });
  });

  test('dead after failing for the disable period', () => {
    const e = applyOutcomes(undefined, failed(['a'], 0), 0, limits);
    expect(endpointDead(e, 3_599_999, limits)).toBe(false);
    expect(endpointDead(e, 3_600_000, limits)).toBe(true);
    expect(endpointDead(applyOutcomes(e, accepted(10), 10, limits), 3_600_000, limits)).toBe(false);
  });
});
