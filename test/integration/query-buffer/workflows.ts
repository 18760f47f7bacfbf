import { defineQuery, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type * as activities from './activities';

export const countQuery = defineQuery<number>('count');

const { holdTask } = proxyLocalActivities<typeof activities>({ startToCloseTimeout: '1 minute' });

/** Holds its first workflow task open (a local activity runs inside it) until the test lets go. */
export async function heldTask(): Promise<void> {
  setHandler(countQuery, () => 1);
  await holdTask();
}
