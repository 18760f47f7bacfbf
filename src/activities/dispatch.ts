import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { DeliveryStatus, ElementInstanceId, ElementKey, ElementsAccount } from '../temporal/search-attributes';
import type { DeliveryInput } from '../workflows/types';

export const deliveryWorkflowId = (eventId: string) => `delivery-${eventId}`;

/**
 * Hands one notification to its own durable delivery workflow. The workflow id is the eventId, so a
 * retried poll that finds the same changes starts nothing new. Returns false when it already existed.
 */
export async function startDelivery(client: Client, taskQueue: string, input: DeliveryInput): Promise<boolean> {
  try {
    await client.workflow.start('deliveryWorkflow', {
      taskQueue,
      workflowId: deliveryWorkflowId(input.eventId),
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
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
