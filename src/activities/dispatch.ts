import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { buildNotification, eventIdFor, type StandardEvent } from '../events/notification';
import { DeliveryStatus, ElementInstanceId, ElementKey, ElementsAccount } from '../temporal/search-attributes';
import { deliveryWorkflowId } from '../workflows/ids';
import type { CallbackTarget, DeliveryInput, PollInput } from '../workflows/types';

/**
 * Hands one notification to its own durable delivery workflow. The workflow id is the eventId, so a
 * retried poll that finds the same changes starts nothing new. Returns false when it already existed.
 */
export async function startDelivery(starter: DeliveryStarter, input: DeliveryInput): Promise<boolean> {
  try {
    await starter.client.workflow.start('deliveryWorkflow', {
      taskQueue: starter.taskQueue,
      workflowId: deliveryWorkflowId(input.eventId),
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // Its first task (and first attempt) then runs on this worker without a trip through matching.
      requestEagerStart: starter.eagerStart ?? false,
      memo: { events: input.events },
      typedSearchAttributes: [
        { key: ElementInstanceId, value: input.instanceId },
        { key: ElementKey, value: input.elementKey },
        { key: ElementsAccount, value: input.accountId },
        { key: DeliveryStatus, value: 'pending' },
      ],
      staticSummary: `${input.events} event(s) for instance ${input.instanceId}`,
    });
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight, in order of start. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
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
}

export interface NotificationBatch {
  instance: PollInput['instance'];
  target: CallbackTarget;
  events: StandardEvent[];
  raw: unknown;
  date: string;
  /** What identifies this batch's content: the eventId is derived from it. */
  identity: string[];
}

/** Builds one notification and hands it to its delivery workflow; returns its eventId. */
export async function handOff(starter: DeliveryStarter, batch: NotificationBatch): Promise<string> {
  const { instance } = batch;
  const eventId = eventIdFor(instance.id, batch.identity);
  const notification = buildNotification({
    eventId,
    instance: { id: instance.id, name: instance.name, tags: instance.tags, elementKey: instance.elementKey },
    date: batch.date,
    events: batch.events,
    raw: batch.raw,
  });
  await startDelivery(starter, {
    eventId,
    instanceId: instance.id,
    elementKey: instance.elementKey,
    accountId: instance.accountId,
    callbackUrl: batch.target.url,
    signatureKey: batch.target.signatureKey,
    webhookSecret: batch.target.webhookSecret,
    previousKeys: batch.target.previousKeys,
    ...starter.deliverySchedule,
    body: JSON.stringify(notification),
    events: batch.events.length,
  });
  return eventId;
}
