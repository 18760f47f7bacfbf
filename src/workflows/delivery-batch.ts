import {
  ParentClosePolicy,
  proxyLocalActivities,
  setHandler,
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
import { deliveryWorkflowId } from './ids';
import { getBatchedDeliveryQuery } from './messages';
import type { DeliveryBatchInput, DeliveryBatchResult, DeliveryInput, DeliveryRecord, FirstAttemptOutcome } from './types';

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
const { deliverFirstAttempts } = proxyLocalActivities<Activities>(firstAttemptsOptions);

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Notifications handed to delivery together (up to MAX_NOTIFICATIONS_PER_BATCH of one instance).
 * Most are accepted at the first attempt and stay on record here; each one that is not moves on to a
 * `delivery-<eventId>` workflow of its own, which carries that attempt and runs the rest of the
 * schedule (Retry-After, 410, redelivery) exactly as for any notification.
 */
export async function deliveryBatchWorkflow(input: DeliveryBatchInput): Promise<DeliveryBatchResult> {
  const createdDate = iso(workflowInfo().startTime.getTime());
  const outcomes = new Map<string, FirstAttemptOutcome>();
  /** Moved on to a workflow of their own: their record is there. */
  const moved = new Set<string>();

  setHandler(getBatchedDeliveryQuery, (eventId): DeliveryRecord | undefined => {
    const notification = input.notifications.find((n) => n.eventId === eventId);
    if (!notification) return undefined;
    const outcome = outcomes.get(eventId);
    return {
      eventId,
      instanceId: input.instanceId,
      // Moved: its own workflow holds the record; until it reads there, it is pending.
      status: outcome?.delivered ? 'delivered' : 'pending',
      events: notification.events,
      createdDate,
      deliveredDate: outcome?.delivered ? outcome.attempt.at : undefined,
      attempts: outcome ? [outcome.attempt] : [],
    };
  });

  let results: FirstAttemptOutcome[];
  try {
    results = await deliverFirstAttempts.executeWithOptions(
      { ...firstAttemptsOptions, summary: `first attempts of ${input.notifications.length} notification(s)` },
      [input],
    );
  } catch {
    // The activity itself failed (timed out, or its worker died): every notification is retried on its own schedule.
    const at = iso(Date.now());
    results = input.notifications.map((n) => ({
      eventId: n.eventId,
      delivered: false,
      attempt: { attempt: 1, at, durationMs: 0, url: input.target.url, error: 'the attempt did not complete' },
    }));
  }
  for (const outcome of results) outcomes.set(outcome.eventId, outcome);

  const failed = input.notifications.filter((n) => !outcomes.get(n.eventId)?.delivered);
  await Promise.all(
    failed.map(async (n) => {
      const outcome = outcomes.get(n.eventId)!;
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
        carried: { attempt: outcome.attempt, retryAfterMs: outcome.retryAfterMs, createdDate },
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
    }),
  );

  const delivered = input.notifications.filter((n) => !moved.has(n.eventId));
  // The list of notifications shows what this batch still holds; moved ones are listed by their own workflows.
  upsertMemo({ events: delivered.reduce((sum, n) => sum + n.events, 0), notifications: delivered.map((n) => [n.eventId, n.events]) });
  upsertSearchAttributes([{ key: DeliveryStatus, value: delivered.length ? 'delivered' : 'retrying' }]);
  return { delivered: delivered.length, retrying: moved.size };
}
