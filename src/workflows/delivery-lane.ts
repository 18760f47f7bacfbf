import { allHandlersFinished, condition, continueAsNew, getExternalWorkflowHandle, setHandler, workflowInfo } from '@temporalio/workflow';
import { batchDoneSignal, enqueueBatchSignal, proceedSignal } from './messages';
import { RecentKeys } from './recent-keys';
import type { DeliveryLaneInput } from './types';

/** A lane with nothing queued for this long closes; the next hand-off starts it again. */
const IDLE_CLOSE = '10 minutes';
/** Batches remembered, so a hand-off retried after it joined the lane does not queue its batch twice. */
const REMEMBERED = 1_000;
const REMEMBERED_FOR_MS = 24 * 60 * 60 * 1000;
const MAX_HISTORY_EVENTS = 10_000;

/**
 * The delivery lane of an instance with `event.notification.ordered`: its delivery batches join in
 * the order they were handed over (`enqueueBatch`, sent with start by the hand-off), and the lane
 * gives each its turn (`proceed`) only once the one before is done (`batchDone`). The batches hold
 * the notifications; the lane holds only their workflow ids.
 */
export async function deliveryLaneWorkflow(input: DeliveryLaneInput): Promise<void> {
  const queue = [...(input.queue ?? [])];
  const done = new Set(input.done ?? []);
  const joined = new RecentKeys(input.joined ?? [], REMEMBERED_FOR_MS, REMEMBERED);

  setHandler(enqueueBatchSignal, (batchId) => {
    if (joined.firstSighting(batchId, Date.now())) queue.push(batchId);
  });
  setHandler(batchDoneSignal, (batchId) => void done.add(batchId));

  const historyFull = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= MAX_HISTORY_EVENTS;
  const carryOn = async () => {
    await condition(allHandlersFinished);
    await continueAsNew<typeof deliveryLaneWorkflow>({ instanceId: input.instanceId, queue, done: [...done], joined: joined.toJSON() });
  };

  for (;;) {
    if (!queue.length && !(await condition(() => queue.length > 0 || historyFull(), IDLE_CLOSE))) break;
    if (historyFull()) await carryOn();
    if (!queue.length) continue;
    const head = queue[0]!;
    if (!done.has(head)) {
      try {
        // Sent again after a continue-as-new: a batch already going ignores it.
        await getExternalWorkflowHandle(head).signal(proceedSignal);
      } catch {
        // Closed or never started: nothing to wait for.
        done.add(head);
      }
      await condition(() => done.has(head) || historyFull());
      if (!done.has(head)) continue;
    }
    queue.shift();
    done.delete(head);
  }
  await condition(allHandlersFinished);
}
