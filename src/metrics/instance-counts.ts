import type { Client } from '@temporalio/client';
import { elements } from '../elements';
import { logger } from '../logger';

/** How long counts are reused: scrapes, however many and however often, cost Temporal at most this rate of counts. */
export const INSTANCE_COUNTS_TTL_MS = 5_000;
/** A scrape must answer even when Temporal does not: counts not back by then are left out of it. */
const COUNT_DEADLINE_MS = 3_000;

export interface InstanceCount {
  element: string;
  events: 'on' | 'off';
  count: number;
}

/**
 * Running instances by element and events state, from Temporal visibility (two counts per element),
 * computed at scrape time but at most once per TTL, and once at a time: concurrent scrapes share one
 * computation. Failing counts give no samples rather than stale ones, and the failure is logged.
 */
export class InstanceCounter {
  private cached?: { atMs: number; counts: InstanceCount[] };
  private inFlight?: Promise<InstanceCount[]>;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly now: () => number = Date.now,
  ) {}

  async read(): Promise<InstanceCount[]> {
    if (this.cached && this.now() - this.cached.atMs < INSTANCE_COUNTS_TTL_MS) return this.cached.counts;
    this.inFlight ??= this.countAll().finally(() => (this.inFlight = undefined));
    try {
      const counts = await this.inFlight;
      this.cached = { atMs: this.now(), counts };
      return counts;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'instance counts for /metrics could not be read from Temporal');
      return [];
    }
  }

  private async countAll(): Promise<InstanceCount[]> {
    // Only this deployment's instances: another task queue in the namespace is another deployment.
    const running = `WorkflowType = 'instanceWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '${quote(this.taskQueue)}'`;
    const count = (query: string) =>
      this.client.withDeadline(Date.now() + COUNT_DEADLINE_MS, () => this.client.workflow.count(query)).then((r) => r.count);
    const perElement = await Promise.all(
      [...elements.keys()].map(async (element): Promise<InstanceCount[]> => {
        const ofElement = `${running} AND ElementKey = '${quote(element)}'`;
        const [all, on] = await Promise.all([count(ofElement), count(`${ofElement} AND EventsEnabled = true`)]);
        return [
          { element, events: 'on', count: on },
          // Visibility may lag between the two counts: never a negative number.
          { element, events: 'off', count: Math.max(0, all - on) },
        ];
      }),
    );
    return perElement.flat();
  }
}

const quote = (value: string) => value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");

let counter: InstanceCounter | undefined;

/** The instances gauge reads through this client from now on (the API that started last: a process runs one). */
export function countInstancesWith(client: Client, taskQueue: string): void {
  counter = new InstanceCounter(client, taskQueue);
}

/** The counts for a scrape: none until a process with a client asked for them (a worker alone does not). */
export async function instanceCountsNow(): Promise<InstanceCount[]> {
  return counter ? counter.read() : [];
}
