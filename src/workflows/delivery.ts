import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { DeliveryStatus } from '../temporal/search-attributes';
import { instanceWorkflowId } from './ids';
import { callbackGoneSignal, getDeliveryQuery, redeliverUpdate } from './messages';
import type { AttemptFailureDetails, DeliveryAttempt, DeliveryInput, DeliveryRecord, DeliveryResult, DeliveryStatusName } from './types';

/** How long a failed notification waits for a redelivery request before its workflow closes. */
const FAILED_KEPT_FOR = '30 days';

const attemptOptions: ActivityOptions = {
  // The callback has 30 s to answer; the margin covers connecting and reading the status line.
  startToCloseTimeout: '40 seconds',
  // One try per attempt: the schedule lives in this workflow, so every attempt is on record.
  retry: { maximumAttempts: 1 },
};

/**
 * The first attempt runs as a local activity, inside the workflow task that starts the workflow:
 * most notifications are accepted at once, and this spares each one an activity task and two more
 * workflow tasks, which is what bounds notifications per second on the server. Retries are ordinary
 * activities, each on its own in the Temporal UI.
 */
const firstAttemptOptions: LocalActivityOptions = {
  startToCloseTimeout: attemptOptions.startToCloseTimeout,
  retry: attemptOptions.retry,
};

const { deliverNotification } = proxyActivities<Activities>(attemptOptions);
const { deliverNotification: deliverFirst } = proxyLocalActivities<Activities>(firstAttemptOptions);

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * What a failed attempt tells the schedule, or undefined when `err` is no attempt's failure. An
 * ordinary activity's failure arrives as an ActivityFailure around its cause; a local activity's
 * (the first attempt) as the activity's own ApplicationFailure.
 */
function failureOf(err: unknown): { message: string; details: AttemptFailureDetails } | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    return { message: cause.message, details: (cause.details?.[0] as AttemptFailureDetails | undefined) ?? {} };
  }
  // A timeout or a lost worker: the attempt counts as failed, with no answer from the callback.
  if (err instanceof ActivityFailure) return { message: err.cause?.message ?? err.message, details: {} };
  return undefined;
}

/**
 * One notification: delivered until the callback accepts it or the schedule runs out. A failed one
 * is kept (its workflow stays open) so that it can be redelivered; nothing is ever dropped.
 */
export async function deliveryWorkflow(input: DeliveryInput): Promise<DeliveryResult> {
  const attempts: DeliveryAttempt[] = [];
  let status: DeliveryStatusName = 'pending';
  let nextAttemptAtMs: number | undefined;
  let deliveredMs: number | undefined;
  let redeliverRequested = false;
  // Moved on from a batch: the notification was handed to delivery when the batch started.
  const createdMs = input.carried ? Date.parse(input.carried.createdDate) : workflowInfo().startTime.getTime();

  const record = (): DeliveryRecord => ({
    eventId: input.eventId,
    instanceId: input.instanceId,
    status,
    events: input.events,
    createdDate: iso(createdMs),
    deliveredDate: deliveredMs ? iso(deliveredMs) : undefined,
    nextAttemptAt: nextAttemptAtMs ? iso(nextAttemptAtMs) : undefined,
    attempts,
  });
  const setStatus = (next: DeliveryStatusName) => {
    status = next;
    upsertSearchAttributes([{ key: DeliveryStatus, value: next }]);
  };

  setHandler(getDeliveryQuery, record);
  setHandler(
    redeliverUpdate,
    async () => {
      redeliverRequested = true;
      await condition(() => status === 'pending');
      return record();
    },
    {
      validator: () => {
        if (status !== 'failed') throw new Error(`notification ${input.eventId} is ${status}; only failed ones are redelivered`);
      },
    },
  );

  /** Waits as the schedule says after failed attempt `n` (from 0); false when none is left. */
  async function waitAfter(n: number, retryAfterMs: number | undefined): Promise<boolean> {
    if (n >= input.maxAttempts - 1) return false;
    const waitMs = retryAfterMs ?? input.firstRetrySeconds * 1000 * 4 ** n;
    nextAttemptAtMs = Date.now() + waitMs;
    await sleep(waitMs);
    return true;
  }

  /** Waits for the endpoint gate (circuit open, or its rate spent); the attempt it held does not count. */
  async function holdUntil(untilMs: number): Promise<void> {
    nextAttemptAtMs = Math.max(untilMs, Date.now() + 500);
    await sleep(nextAttemptAtMs - Date.now());
  }

  /** The attempts a batch made: the schedule goes on from the last one's outcome. */
  async function carriedOn(): Promise<DeliveryStatusName | undefined> {
    const { attempts: earlier, retryAfterMs, cancelled, heldUntilMs } = input.carried!;
    attempts.push(...earlier);
    if (cancelled) return 'cancelled';
    // Held by the endpoint gate before its attempt: it waits, and its attempt is still to come.
    if (heldUntilMs !== undefined) {
      await holdUntil(heldUntilMs);
      return undefined;
    }
    if (earlier[earlier.length - 1]?.status === 410) return 'gone';
    return (await waitAfter(earlier.length - 1, retryAfterMs)) ? undefined : 'failed';
  }

  async function runSchedule(first = 0): Promise<DeliveryStatusName> {
    for (let n = first; n < input.maxAttempts; n++) {
      const startedMs = Date.now();
      nextAttemptAtMs = undefined;
      const summary = `attempt ${attempts.length + 1}: POST ${input.events} event(s)`;
      try {
        // Retries and redeliveries go where the instance's callback is now, signed with its keys now.
        // The attempt's place in the schedule tells the activity whether its failure fails the
        // notification (for the metrics; an argument only, so recorded histories replay the same).
        const scheduleAttempt = n + 1;
        const { status: httpStatus, url } = attempts.length
          ? await deliverNotification.executeWithOptions({ ...attemptOptions, summary }, [input, { followInstance: true, scheduleAttempt }])
          : await deliverFirst.executeWithOptions({ ...firstAttemptOptions, summary }, [input, { scheduleAttempt }]);
        attempts.push({ attempt: attempts.length + 1, at: iso(startedMs), durationMs: Date.now() - startedMs, url, status: httpStatus });
        deliveredMs = Date.now();
        return 'delivered';
      } catch (err) {
        const failure = failureOf(err);
        if (!failure) throw err;
        const { message, details } = failure;
        // Nothing was sent: the instance is gone, and its notifications with it.
        if (details.instanceDeleted) return 'cancelled';
        if (details.heldUntilMs !== undefined) {
          await holdUntil(details.heldUntilMs);
          n--;
          continue;
        }
        attempts.push({
          attempt: attempts.length + 1,
          at: iso(startedMs),
          durationMs: Date.now() - startedMs,
          url: details.url,
          status: details.status,
          error: message,
        });
        if (details.status === 410) return 'gone';
        if (!(await waitAfter(n, details.retryAfterMs))) return 'failed';
      }
    }
    return 'failed';
  }

  let carried = input.carried ? await carriedOn() : undefined;
  // Carried attempts with retries left go on at the schedule's next attempt; a redelivery starts over.
  let resumeAt = input.carried?.attempts.length ?? 0;
  for (;;) {
    const outcome = carried ?? (await runSchedule(resumeAt));
    carried = undefined;
    resumeAt = 0;
    nextAttemptAtMs = undefined;
    setStatus(outcome);
    if (outcome === 'gone') {
      // The receiver says it is gone for good: stop, and have the instance turn its events off.
      const callbackUrl = attempts[attempts.length - 1]?.url ?? input.callbackUrl;
      await getExternalWorkflowHandle(instanceWorkflowId(input.instanceId))
        .signal(callbackGoneSignal, { callbackUrl, eventId: input.eventId, at: iso(Date.now()) })
        .catch(() => undefined); // the instance may have been deleted meanwhile
    }
    if (outcome !== 'failed') break;
    if (!(await condition(() => redeliverRequested, FAILED_KEPT_FOR))) break;
    redeliverRequested = false;
    setStatus('pending');
  }
  const last = attempts[attempts.length - 1];
  const final = status as DeliveryStatusName;
  return { status: final, eventId: input.eventId, httpStatus: last?.status, error: final === 'delivered' ? undefined : last?.error };
}
