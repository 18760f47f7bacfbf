import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RemoveStraysInput } from './types';

const { removeStrayCallbacks } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6 },
});

/**
 * Deleting an instance whose workflow was terminated (or failed): that workflow cannot take its
 * callbacks down at the provider any more, so this does, with the state the instance last had.
 */
export async function cleanupWorkflow(input: RemoveStraysInput): Promise<{ removed: number }> {
  return removeStrayCallbacks(input);
}
