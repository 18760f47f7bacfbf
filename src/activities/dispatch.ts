import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { buildNotification, eventIdFor, type StandardEvent } from '../events/notification';
import { DeliveryEventIds, DeliveryStatus, ElementInstanceId, ElementKey, ElementsAccount } from '../temporal/search-attributes';
import { deliveryBatchWorkflow } from '../workflows/delivery-batch';
import { deliveryLaneWorkflow } from '../workflows/delivery-lane';
import { deliveryBatchWorkflowId, orderedLaneWorkflowId } from '../workflows/ids';
import { enqueueBatchSignal } from '../workflows/messages';
import type { BatchedNotification, CallbackTarget, DeliveryBatchInput, InstanceRef } from '../workflows/types';

/** Runs `fn` over `items` as they come, with at most `limit` in flight; rejects with the first failure. */
export async function forEachLimit<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.iterator]();
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) await fn(next.value);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/** `items.map(fn)`, computed as it is iterated. */
export function* mapLazily<T, R>(items: Iterable<T>, fn: (item: T) => R): Generator<R> {
  for (const item of items) yield fn(item);
}

export interface DeliverySchedule {
  firstRetrySeconds: number;
  maxAttempts: number;
}

/** What handing a notification to delivery needs from the worker. */
export interface DeliveryStarter {
  client: Client;
  taskQueue: string;
  /** Cloud Elements' schedule unless a test shortens it. */
  deliverySchedule: DeliverySchedule;
  /**
   * Start delivery workflows eagerly on this worker. Only a client on the worker's own
   * NativeConnection can; the SDK refuses the request from any other.
   */
  eagerStart?: boolean;
  /** Delivery batches started at once. */
  dispatchConcurrency?: number;
}

/** The events of one notification, and what identifies them. */
export interface NotificationBatch {
  instance: InstanceRef;
  events: StandardEvent[];
  raw: unknown;
  date: string;
  /** What identifies this batch's content: the eventId is derived from it. */
  identity: string[];
}

/**
 * Notifications per delivery batch. Their eventIds are the batch's `DeliveryEventIds` search
 * attribute, whose value Temporal caps at 2 KB by default: 48 ids of 36 characters fit.
 */
export const MAX_NOTIFICATIONS_PER_BATCH = 48;
/** Body bytes per batch: the batch's input is one payload in history, kept well under Temporal's 2 MB limit. */
export const MAX_BATCH_BYTES = 128 * 1024;

/**
 * Groups notifications into batches in order, as they come: at most MAX_NOTIFICATIONS_PER_BATCH and
 * MAX_BATCH_BYTES each (a larger body alone). Lazy, so a large poll never holds every body at once.
 */
export function* intoBatches(notifications: Iterable<BatchedNotification>): Generator<BatchedNotification[]> {
  let current: BatchedNotification[] = [];
  let bytes = 0;
  for (const n of notifications) {
    const size = Buffer.byteLength(n.body);
    if (current.length && (current.length >= MAX_NOTIFICATIONS_PER_BATCH || bytes + size > MAX_BATCH_BYTES)) {
      yield current;
      current = [];
      bytes = 0;
    }
    current.push(n);
    bytes += size;
  }
  if (current.length) yield current;
}

/** A batch's workflow id: from its eventIds, so a retried hand-off of the same notifications starts nothing new. */
export const batchKeyOf = (notifications: readonly BatchedNotification[]) =>
  createHash('sha256')
    .update(notifications.map((n) => n.eventId).join(','))
    .digest('hex')
    .slice(0, 32);

/** Starts one delivery batch; an ordered one then joins its instance's lane. */
async function startBatch(starter: DeliveryStarter, input: DeliveryBatchInput): Promise<void> {
  const workflowId = deliveryBatchWorkflowId(batchKeyOf(input.notifications));
  try {
    await starter.client.workflow.start(deliveryBatchWorkflow, {
      taskQueue: starter.taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // Its first task (all the first attempts) then runs on this worker without a trip through matching.
      requestEagerStart: starter.eagerStart ?? false,
      memo: {
        events: input.notifications.reduce((sum, n) => sum + n.events, 0),
        notifications: input.notifications.map((n) => [n.eventId, n.events]),
      },
      typedSearchAttributes: [
        { key: ElementInstanceId, value: input.instanceId },
        { key: ElementKey, value: input.elementKey },
        { key: ElementsAccount, value: input.accountId },
        { key: DeliveryStatus, value: 'pending' },
        { key: DeliveryEventIds, value: input.notifications.map((n) => n.eventId) },
      ],
      staticSummary: `${input.notifications.length} notification(s) for instance ${input.instanceId}`,
    });
  } catch (err) {
    // A retried hand-off: the batch exists already (USE_EXISTING answers a running one; this, a closed one).
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  if (!input.ordered) return;
  // After the batch exists, so the lane never gives a turn to a batch not yet started. A retried
  // hand-off joins again; the lane ignores that.
  await starter.client.workflow.signalWithStart(deliveryLaneWorkflow, {
    taskQueue: starter.taskQueue,
    workflowId: orderedLaneWorkflowId(input.instanceId),
    args: [{ instanceId: input.instanceId }],
    signal: enqueueBatchSignal,
    signalArgs: [workflowId],
    typedSearchAttributes: [
      { key: ElementInstanceId, value: input.instanceId },
      { key: ElementKey, value: input.elementKey },
      { key: ElementsAccount, value: input.accountId },
    ],
    staticSummary: `ordered delivery for instance ${input.instanceId}`,
  });
}

/** Builds one notification per group of events, in order, as they are asked for. */
export function* buildNotifications(groups: Iterable<NotificationBatch>): Generator<BatchedNotification> {
  for (const { instance, ...group } of groups) {
    const eventId = eventIdFor(instance.id, group.identity);
    const notification = buildNotification({
      eventId,
      instance: { id: instance.id, name: instance.name, tags: instance.tags, elementKey: instance.elementKey },
      date: group.date,
      events: group.events,
      raw: group.raw,
    });
    yield { eventId, body: JSON.stringify(notification), events: group.events.length };
  }
}

/**
 * Hands notifications of one instance to delivery, durably: once this returns, each is held by a
 * delivery batch, whose workflow makes every first attempt at once. Returns the eventIds in order.
 * Notifications are built as batches are started (`dispatchConcurrency` at a time), so memory holds
 * only those batches' bodies. `onStarted` reports progress (the poll's heartbeat).
 */
export async function handOff(
  starter: DeliveryStarter,
  instance: InstanceRef,
  target: CallbackTarget,
  groups: Iterable<NotificationBatch>,
  opts: { ordered?: boolean; onStarted?: (notifications: number) => void } = {},
): Promise<string[]> {
  const { ordered, onStarted } = opts;
  const eventIds: string[] = [];
  let started = 0;
  // Ordered batches join the lane one after another, in order.
  const concurrency = ordered ? 1 : (starter.dispatchConcurrency ?? 16);
  await forEachLimit(intoBatches(buildNotifications(groups)), concurrency, async (batch) => {
    for (const n of batch) eventIds.push(n.eventId);
    await startBatch(starter, {
      instanceId: instance.id,
      elementKey: instance.elementKey,
      accountId: instance.accountId,
      target,
      ...starter.deliverySchedule,
      notifications: batch,
      // Plain data for the delivery latency metric: the batch's first attempts measure from here.
      handedAtMs: Date.now(),
      ...(ordered ? { ordered } : {}),
    });
    onStarted?.((started += batch.length));
  });
  return eventIds;
}
