import { ApplicationFailure } from '@temporalio/activity';
import type { GateDecision } from '../activities/endpoint-gate';
import type { AttemptFailureDetails } from '../workflows/types';
import { elementLabel, statusClass } from './labels';
import { deliveryAttempts, deliveryHeld, deliveryLatency, endpointProbes, notifications } from './metrics';

/** One delivery attempt that went on record (an attempt the endpoint gate held, or one for a deleted instance, is none). */
export interface AttemptOnRecord {
  elementKey: string;
  delivered: boolean;
  /** The callback's HTTP status, when it answered. */
  status?: number;
  /** When the notification was handed to delivery, when known: the latency's start. */
  handedAtMs?: number;
  /** The last attempt its schedule allows: not accepted, the notification is failed. */
  last: boolean;
}

/** Counts an attempt, and the notification's outcome when this attempt settled it. */
export function countAttempt(a: AttemptOnRecord): void {
  const element = elementLabel(a.elementKey);
  deliveryAttempts.inc({ element, status_class: statusClass(a.status) });
  if (a.delivered) {
    notifications.inc({ element, outcome: 'delivered' });
    if (a.handedAtMs !== undefined && Number.isFinite(a.handedAtMs))
      deliveryLatency.observe({ element }, Math.max(0, Date.now() - a.handedAtMs) / 1000);
  } else if (a.status === 410) {
    notifications.inc({ element, outcome: 'gone' });
  } else if (a.last) {
    notifications.inc({ element, outcome: 'failed' });
  }
}

/** Counts what the endpoint gate decided when it did not simply let the attempt go: a probe, or a hold and why. */
export function countGate(elementKey: string, decision: GateDecision): void {
  const element = elementLabel(elementKey);
  if (decision.go) {
    if (decision.probe) endpointProbes.inc({ element });
  } else {
    deliveryHeld.inc({ element, reason: decision.by === 'rate' ? 'rate' : 'circuit_open' });
  }
}

/**
 * A failed attempt's error as the schedule sees it: the callback's status, or undefined when it was
 * no attempt at all (held by the endpoint gate, or the instance is gone), which the schedule does not count.
 */
export function failedAttemptOf(err: unknown): { status?: number } | undefined {
  const details = err instanceof ApplicationFailure ? ((err.details?.[0] as AttemptFailureDetails | undefined) ?? {}) : {};
  if (details.instanceDeleted || details.heldUntilMs !== undefined) return undefined;
  return { status: details.status };
}

/** `Date.parse`, or undefined for a missing or unreadable date. */
export function msOf(date: string | undefined): number | undefined {
  const ms = date === undefined ? NaN : Date.parse(date);
  return Number.isFinite(ms) ? ms : undefined;
}
