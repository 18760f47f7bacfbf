import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from './activities';

export const eventSignal = defineSignal<[Record<string, string>]>('event');

const { post } = proxyActivities<typeof activities>({ startToCloseTimeout: '30 seconds', retry: { initialInterval: '1 second' } });

/** The floor: every signal starts one activity. */
export async function floorWorkflow(): Promise<void> {
  const queue: Record<string, string>[] = [];
  let running = 0;
  setHandler(eventSignal, (fields) => void queue.push(fields));
  for (;;) {
    await condition(() => queue.length > 0);
    while (queue.length) {
      const fields = queue.shift()!;
      running++;
      void post(fields).finally(() => running--);
    }
  }
}
