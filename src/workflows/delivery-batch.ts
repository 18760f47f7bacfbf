import {
  condition,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  proxyLocalActivities,
  setHandler,
  sleep,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import { DeliveryStatus, ElementInstanceId, ElementKey, ElementsAccount } from '../temporal/search-attributes';
import { deliveryWorkflow } from './delivery';
import { deliveryWorkflowId, orderedLaneWorkflowId } from './ids';
import { batchDoneSignal, getBatchedDeliveryQuery, proceedSignal } from './messages';
import type {
  BatchedNotification,
  CarriedAttempt,
  DeliveryAttempt,
  DeliveryBatchInput,
  DeliveryBatchResult,
  DeliveryInput,
  DeliveryRecord,
  FirstAttemptOutcome,
} from './types';

/**
 * Every first attempt of a batch runs in one local activity, in parallel, inside the workflow task
 * that starts the batch: the server's cost of a workflow is shared by the whole batch. The callback
 * has 30 s to answer each; the margin covers connecting and reading the status line.
 */
const firstAttemptsOptions: LocalActivityOptions = {
  startToCloseTimeout: '45 seconds',
  // One try: a notification whose attempt did not come back moves to its own schedule, where it is retried.
  retry: { maximumAttempts: 1 },
};
/** Ordered: one at a time, for up to 30 s of sending, then back to the workflow (a callback may take 30 s more). */
const inOrderOptions: LocalActivityOptions = { ...firstAttemptsOptions, startToCloseTimeout: '75 seconds' };
const { deliverFirstAttempts } = proxyLocalActivities<Activities>(firstAttemptsOptions);

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Notifications handed to delivery together (up to MAX_NOTIFICATIONS_PER_BATCH of one instance).
 * Most are accepted at the first attempt and stay on record here; each one that is not moves on to a
 * `delivery-<eventId>` workflow of its own, which carries the attempts made and runs the rest of the
 * schedule (Retry-After, 410, redelivery) exactly as for any notification.
 *
 * Ordered (`event.notification.ordered`): the batch waits for its turn in the instance's lane, then
 * delivers one notification at a time in order. While the head fails, it is retried here on the
 * schedule and the rest wait; a head whose schedule runs out (or that is gone) moves on, failed, to
 * its own workflow, and the next one goes.
 */
export async function deliveryBatchWorkflow(input: DeliveryBatchInput): Promise<DeliveryBatchResult> {
  const createdDate = iso(workflowInfo().startTime.getTime());
  const attempts = new Map<string, DeliveryAttempt[]>();
  const delivered = new Set<string>();
  /** Moved on to a workflow of their own: their record is there. */
  const moved = new Set<string>();
  let nextAttemptAtMs: number | undefined;
  let proceed = false;

  setHandler(getBatchedDeliveryQuery, (eventId): DeliveryRecord | undefined => {
    const notification = input.notifications.find((n) => n.eventId === eventId);
    if (!notification) return undefined;
    const made = attempts.get(eventId) ?? [];
    const done = delivered.has(eventId);
    return {
      eventId,
      instanceId: input.instanceId,
      // Moved: its own workflow holds the record; until it reads there, it is pending.
      status: done ? 'delivered' : 'pending',
      events: notification.events,
      createdDate,
      deliveredDate: done ? made[made.length - 1]?.at : undefined,
      nextAttemptAt: !done && made.length && nextAttemptAtMs ? iso(nextAttemptAtMs) : undefined,
      attempts: made,
    };
  });
  setHandler(proceedSignal, () => void (proceed = true));

  const record = (outcome: FirstAttemptOutcome) => {
    attempts.set(outcome.eventId, [...(attempts.get(outcome.eventId) ?? []), outcome.attempt]);
    if (outcome.delivered) delivered.add(outcome.eventId);
  };

  /** Hands a notification not delivered here to its own workflow, with the attempts made. */
  async function moveOn(n: BatchedNotification, carried: Omit<CarriedAttempt, 'createdDate'>): Promise<void> {
    const delivery: DeliveryInput = {
      eventId: n.eventId,
      instanceId: input.instanceId,
      elementKey: input.elementKey,
      accountId: input.accountId,
      callbackUrl: input.target.url,
      signatureKey: input.target.signatureKey,
      webhookSecret: input.target.webhookSecret,
      previousKeys: input.target.previousKeys,
      firstRetrySeconds: input.firstRetrySeconds,
      maxAttempts: input.maxAttempts,
      body: n.body,
      events: n.events,
      carried: { ...carried, createdDate },
    };
    try {
      await startChild(deliveryWorkflow, {
        workflowId: deliveryWorkflowId(n.eventId),
        args: [delivery],
        // It outlives the batch: the batch closes once every notification is delivered or moved on.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo: { events: n.events },
        typedSearchAttributes: [
          { key: ElementInstanceId, value: input.instanceId },
          { key: ElementKey, value: input.elementKey },
          { key: ElementsAccount, value: input.accountId },
          { key: DeliveryStatus, value: 'pending' },
        ],
        staticSummary: `${n.events} event(s) for instance ${input.instanceId}`,
      });
    } catch (err) {
      // Handed on before, by an earlier batch holding the same notification: that workflow has it.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    moved.add(n.eventId);
  }

  /** Every first attempt at once; those not accepted move on to their own schedules. */
  async function allAtOnce(): Promise<void> {
    let results: FirstAttemptOutcome[];
    try {
      results = await deliverFirstAttempts.executeWithOptions(
        { ...firstAttemptsOptions, summary: `first attempts of ${input.notifications.length} notification(s)` },
        [input],
      );
    } catch {
      // The activity itself failed (timed out, or its worker died): each notification is retried on its own schedule.
      const at = iso(Date.now());
      results = input.notifications.map((n) => ({
        eventId: n.eventId,
        delivered: false,
        attempt: { attempt: 1, at, durationMs: 0, url: input.target.url, error: 'the attempt did not complete' },
      }));
    }
    // Held by the endpoint gate (circuit open, or its rate spent): not attempted, nothing on record.
    for (const outcome of results) if (outcome.heldUntilMs === undefined) record(outcome);
    await Promise.all(
      input.notifications
        .filter((n) => !delivered.has(n.eventId))
        .map((n) => {
          const outcome = results.find((r) => r.eventId === n.eventId);
          return moveOn(n, {
            attempts: attempts.get(n.eventId) ?? [],
            retryAfterMs: outcome?.retryAfterMs,
            ...(outcome?.heldUntilMs !== undefined ? { heldUntilMs: outcome.heldUntilMs } : {}),
          });
        }),
    );
  }

  /** One at a time, in order, once the lane gives this batch its turn. */
  async function inOrder(): Promise<void> {
    await condition(() => proceed);
    let head = 0;
    let retrying = false;
    while (head < input.notifications.length) {
      const rest = input.notifications.slice(head);
      let results: FirstAttemptOutcome[];
      try {
        results = await deliverFirstAttempts.executeWithOptions(
          { ...inOrderOptions, summary: `in order: ${rest.length} notification(s) from ${head + 1}` },
          // Retries go where the instance's callback is now, signed with its keys now.
          // The head's place in its schedule tells the activity whether its failure fails it (metrics).
          [
            { ...input, notifications: rest },
            { ordered: true, followInstance: retrying, headAttempt: (attempts.get(rest[0]!.eventId)?.length ?? 0) + 1 },
          ],
        );
      } catch {
        const at = iso(Date.now());
        results = [
          {
            eventId: rest[0]!.eventId,
            delivered: false,
            attempt: { attempt: 0, at, durationMs: 0, error: 'the attempt did not complete' },
          },
        ];
      }
      let failure: FirstAttemptOutcome | undefined;
      let heldUntilMs: number | undefined;
      for (const outcome of results) {
        // Held by the endpoint gate: not attempted, nothing on record; the head waits and asks again.
        if (outcome.heldUntilMs !== undefined) {
          heldUntilMs = outcome.heldUntilMs;
          break;
        }
        // Not attempted (the instance is gone): no attempt goes on record.
        if (outcome.cancelled) {
          failure = outcome;
          break;
        }
        const made = attempts.get(outcome.eventId)?.length ?? 0;
        record({ ...outcome, attempt: { ...outcome.attempt, attempt: made + 1 } });
        if (outcome.delivered) head++;
        else failure = outcome;
      }
      if (heldUntilMs !== undefined && !failure) {
        nextAttemptAtMs = Math.max(heldUntilMs, Date.now() + 500);
        await sleep(nextAttemptAtMs - Date.now());
        nextAttemptAtMs = undefined;
        continue;
      }
      if (!failure) continue; // stopped after its time budget: the next call goes on from the head
      const n = input.notifications[head]!;
      const made = attempts.get(n.eventId)!;
      if (failure.cancelled) {
        // The instance is gone: nothing more is sent, and every notification left is cancelled.
        for (const left of input.notifications.slice(head))
          await moveOn(left, { attempts: attempts.get(left.eventId) ?? [], cancelled: true });
        return;
      }
      if (failure.attempt.status === 410 || made.length >= input.maxAttempts) {
        // Gone, or its schedule ran out: its own workflow records that (and keeps a failed one for redelivery).
        await moveOn(n, { attempts: made });
        head++;
        retrying = false;
        continue;
      }
      const waitMs = failure.retryAfterMs ?? input.firstRetrySeconds * 1000 * 4 ** (made.length - 1);
      nextAttemptAtMs = Date.now() + waitMs;
      await sleep(waitMs);
      nextAttemptAtMs = undefined;
      retrying = true;
    }
  }

  if (input.ordered) {
    await inOrder();
    // The lane lets the next batch go; it may have closed meanwhile (then nobody waits).
    await getExternalWorkflowHandle(orderedLaneWorkflowId(input.instanceId))
      .signal(batchDoneSignal, workflowInfo().workflowId)
      .catch(() => undefined);
  } else {
    await allAtOnce();
  }

  const held = input.notifications.filter((n) => !moved.has(n.eventId));
  // The list shows what this batch still holds; moved ones are listed by their own workflows.
  upsertMemo({ events: held.reduce((sum, n) => sum + n.events, 0), notifications: held.map((n) => [n.eventId, n.events]) });
  upsertSearchAttributes([{ key: DeliveryStatus, value: held.length ? 'delivered' : 'retrying' }]);
  return { delivered: held.length, retrying: moved.size };
}
