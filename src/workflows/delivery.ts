import { ActivityFailure, proxyActivities, upsertSearchAttributes, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { DeliveryStatus } from '../temporal/search-attributes';
import type { DeliveryInput, DeliveryResult } from './types';

/** Cloud Elements' schedule: 10 attempts, 4 s × 4^n apart (the last gap about 73 h). */
export const DELIVERY_ATTEMPTS = 10;
const deliveryOptions: ActivityOptions = {
  // The callback has 30 s to answer; the margin covers connecting and reading the status line.
  startToCloseTimeout: '40 seconds',
  retry: {
    initialInterval: '4 seconds',
    backoffCoefficient: 4,
    maximumInterval: `${4 * 4 ** (DELIVERY_ATTEMPTS - 1)} seconds`,
    maximumAttempts: DELIVERY_ATTEMPTS,
  },
};

const { deliverNotification } = proxyActivities<Activities>(deliveryOptions);

/** Delivers one notification until the callback accepts it or the schedule runs out; never drops it. */
export async function deliveryWorkflow(input: DeliveryInput): Promise<DeliveryResult> {
  try {
    const { status } = await deliverNotification.executeWithOptions(
      { ...deliveryOptions, summary: `POST ${input.events} event(s) to the callback` },
      [input],
    );
    upsertSearchAttributes([{ key: DeliveryStatus, value: 'delivered' }]);
    return { status: 'delivered', eventId: input.eventId, httpStatus: status };
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    upsertSearchAttributes([{ key: DeliveryStatus, value: 'failed' }]);
    return { status: 'failed', eventId: input.eventId, error: err.cause?.message ?? err.message };
  }
}
