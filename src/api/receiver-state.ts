import { performance } from 'node:perf_hooks';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Sealer } from '../secrets/sealer';
import { ElementKey } from '../temporal/search-attributes';
import { receiverStateQuery } from '../workflows/messages';
import { instanceWorkflowId } from '../workflows/ids';

/** What the webhook receiver needs to know about an instance, with its verifiers opened. */
export interface ReceiverSnapshot {
  /** When the read that produced it started: it reflects everything signalled before then. */
  at: number;
  running: boolean;
  elementKey?: string;
  /** Confirmed verifiers by provider event. */
  verifiers: Record<string, string[]>;
  verified: ReadonlySet<string>;
  awaiting: ReadonlySet<string>;
  registering: boolean;
}

interface Entry {
  snapshot?: ReceiverSnapshot;
  loading?: Promise<ReceiverSnapshot>;
  /** When the latest read starts (or started): the one in flight, while `loading` is set. */
  lastStart: number;
}

/** A snapshot this old is read again, whatever is asked. */
const MAX_AGE_MS = 60_000;
/** Reads of one instance start at least this far apart, however many requests want a fresh one. */
const MIN_GAP_MS = 1_000;
/** Instances remembered at once (least recently used forgotten first). */
const MAX_ENTRIES = 10_000;
/**
 * Reads of instances not known to be running (ids never seen, or gone), per second and in a burst:
 * posts to a spray of made-up ids cost a bounded number of Temporal calls, not one each.
 */
export const UNKNOWN_READS_PER_SECOND = 50;
const UNKNOWN_READS_BURST = 200;

/** Too many reads of unknown instances just now: the provider is asked to retry (503). */
export class ReceiverBusy extends Error {
  constructor() {
    super('The webhook receiver is busy; try again');
    this.name = 'ReceiverBusy';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Monotonic: a wall clock stepped back must not make an old view look newer than a request. */
export const now = () => performance.now();

/**
 * The receiver's view of each instance: running or not, its element, confirmed verifiers and the
 * callbacks awaiting verification. Requests share reads: a request that needs a view newer than its
 * own arrival waits for the next read, and reads of one instance are at least a second apart, so a
 * flood of posts costs at most one Temporal call a second per instance, not one a post.
 */
export class ReceiverStates {
  private readonly entries = new Map<string, Entry>();
  private unknownReads = { tokens: UNKNOWN_READS_BURST, at: now() };

  constructor(
    private readonly client: Client,
    private readonly sealer: Sealer,
    private readonly deadlineMs: number,
  ) {}

  /** A view at most a minute old. */
  current(id: string): Promise<ReceiverSnapshot> {
    return this.newerThan(id, now() - MAX_AGE_MS);
  }

  /** A view at most a second old: read again for a request the cached view refuses, without waiting. */
  recent(id: string): Promise<ReceiverSnapshot> {
    return this.newerThan(id, now() - MIN_GAP_MS);
  }

  /** A view read after `since` (a request's arrival): it includes whatever happened before then. */
  async newerThan(id: string, since: number): Promise<ReceiverSnapshot> {
    const entry = this.entry(id);
    for (;;) {
      if (entry.snapshot && entry.snapshot.at >= since) return entry.snapshot;
      if (!entry.loading) this.schedule(id, entry);
      else if (entry.lastStart >= since) return await entry.loading;
      // The read in flight started before this caller arrived: the next one is for it.
      else await entry.loading.catch(() => undefined);
    }
  }

  private schedule(id: string, entry: Entry): void {
    if (!entry.snapshot?.running) this.takeUnknownRead();
    const startAt = Math.max(now(), entry.lastStart + MIN_GAP_MS);
    entry.lastStart = startAt;
    entry.loading = sleep(startAt - now())
      .then(() => this.read(id))
      .then((snapshot) => {
        entry.snapshot = snapshot;
        return snapshot;
      })
      .finally(() => {
        entry.loading = undefined;
      });
  }

  private async read(id: string): Promise<ReceiverSnapshot> {
    const at = now();
    const handle = this.client.workflow.getHandle(instanceWorkflowId(id));
    const soon = <T>(fn: () => Promise<T>) => this.client.withDeadline(Date.now() + this.deadlineMs, fn);
    const gone: ReceiverSnapshot = { at, running: false, verifiers: {}, verified: new Set(), awaiting: new Set(), registering: false };
    try {
      const description = await soon(() => handle.describe());
      if (description.status.name !== 'RUNNING') return gone;
      const state = await soon(() => handle.query(receiverStateQuery));
      const instanceId = Number(id);
      const verifiers = Object.fromEntries(
        Object.entries(state.verifiers).map(([event, list]) => [
          event,
          list.map((v) => this.sealer.open(v, { instanceId, field: 'verifier' })),
        ]),
      );
      return {
        at,
        running: true,
        elementKey: description.typedSearchAttributes.get(ElementKey),
        verifiers,
        verified: new Set(state.verified),
        awaiting: new Set(state.awaiting),
        registering: state.registering,
      };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return gone;
      throw err;
    }
  }

  private takeUnknownRead(): void {
    const t = now();
    const bucket = this.unknownReads;
    bucket.tokens = Math.min(UNKNOWN_READS_BURST, bucket.tokens + ((t - bucket.at) / 1000) * UNKNOWN_READS_PER_SECOND);
    bucket.at = t;
    if (bucket.tokens < 1) throw new ReceiverBusy();
    bucket.tokens -= 1;
  }

  private entry(id: string): Entry {
    let entry = this.entries.get(id);
    if (entry) this.entries.delete(id);
    else {
      entry = { lastStart: 0 };
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(id, entry);
    return entry;
  }
}
