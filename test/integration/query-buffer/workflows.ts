import { condition, defineQuery, defineSignal, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type * as activities from './activities';

export const countQuery = defineQuery<number>('count');
export const finishSignal = defineSignal('finish');

const { holdTask } = proxyLocalActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

/**
 * Holds its first workflow task open (a local activity runs inside it) until the test lets go, then
 * stays open, as an instance does, until told to finish. Completing at once would race the buffered
 * queries: the worker evicts a finished run, and queries handed to it in that moment are dropped and
 * time out, which is the SDK's business, not the buffer's.
 */
export async function heldTask(): Promise<void> {
  let finished = false;
  setHandler(countQuery, () => 1);
  setHandler(finishSignal, () => void (finished = true));
  await holdTask();
  await condition(() => finished);
}
