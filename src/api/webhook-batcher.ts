import { randomUUID } from 'node:crypto';
import { isGrpcDeadlineError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client, type WorkflowHandle } from '@temporalio/client';
import { activeTraceparent } from '../tracing/traceparent';
import { acceptWebhooksUpdate, webhooksSignal } from '../workflows/messages';
import type { WebhookReceipt } from '../workflows/types';

export interface BatcherOptions {
  maxBatch: number;
  lingerMs: number;
  /** How long a webhook may wait for Temporal from its arrival. */
  deadlineMs: number;
  /** How long the instance has to take a batch as an update before it goes as a signal. */
  updateBudgetMs: number;
  /** How long one try of the update goes unanswered before another starts (under the same id). */
  updateTryMs: number;
  /** Time kept before a batch's deadline for the signal, should the update not be answered. */
  signalReserveMs: number;
}

const DEFAULT_OPTIONS: BatcherOptions = {
  maxBatch: 200,
  lingerMs: 2,
  deadlineMs: 5_000,
  updateBudgetMs: 2_000,
  updateTryMs: 100,
  signalReserveMs: 1_000,
};

interface Waiting {
  receipt: WebhookReceipt;
  /** When its sender must have an answer (epoch ms): past it, the webhook is not sent at all. */
  deadlineAtMs: number;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Groups webhooks for the same instance that arrive close together into one update (or signal), so a
 * burst costs a few history events instead of one per webhook. Each caller's promise settles only when
 * the instance has taken the update that carries its webhook, or Temporal has recorded the signal.
 */
export class WebhookBatcher {
  private queues = new Map<string, Waiting[]>();
  private inFlight = new Map<string, Promise<void>>();

  /** How the batches went: as updates, or as signals after an update was not answered in time. */
  readonly counts = { updates: 0, signals: 0 };
  /** Calls to Temporal not yet settled, tries no longer awaited among them (see `settled`). */
  private readonly unsettled = new Set<Promise<unknown>>();
  private readonly opts: BatcherOptions;

  constructor(
    private readonly client: Client,
    opts: Partial<BatcherOptions> = {},
  ) {
    this.opts = { ...DEFAULT_OPTIONS, ...opts };
  }

  /**
   * `key`: the webhook's delivery key digest (the instance drops a repeat of it). `deadlineAtMs`: when
   * the request arrived plus the deadline (the time it already waited counts).
   */
  add(
    workflowId: string,
    key: string,
    fields: Record<string, string>,
    deadlineAtMs = Date.now() + this.opts.deadlineMs,
  ): Promise<WebhookReceipt> {
    // A random id as well: a worker still on code from before keys ignores `key` and needs one; the
    // instance replaces it with one made from the key.
    const receipt: WebhookReceipt = { id: randomUUID(), key, receivedAt: new Date().toISOString(), fields };
    // Tracing on: the request's trace goes along, for the delivery the instance starts later.
    const traceparent = activeTraceparent();
    if (traceparent) receipt.traceparent = traceparent;
    return new Promise<WebhookReceipt>((resolve, reject) => {
      const queue = this.queues.get(workflowId) ?? [];
      queue.push({ receipt, deadlineAtMs, resolve: () => resolve(receipt), reject });
      this.queues.set(workflowId, queue);
      if (queue.length === 1) setTimeout(() => void this.flush(workflowId), this.opts.lingerMs);
      else if (queue.length >= this.opts.maxBatch) void this.flush(workflowId);
    });
  }

  private async flush(workflowId: string): Promise<void> {
    // One batch at a time per instance keeps the webhooks in arrival order.
    await this.inFlight.get(workflowId);
    const queue = this.queues.get(workflowId);
    if (!queue?.length || this.inFlight.has(workflowId)) return;
    // A webhook that waited out its deadline behind an earlier batch is answered 503 unsent: sent
    // now, it could land after the provider gave up, and the provider's retry would be a second event.
    const now = Date.now();
    for (const w of queue.filter((w) => w.deadlineAtMs <= now))
      w.reject(new Error('the webhook could not be recorded within its deadline'));
    const live = queue.filter((w) => w.deadlineAtMs > now);
    const batch = live.splice(0, this.opts.maxBatch);
    if (live.length) this.queues.set(workflowId, live);
    else this.queues.delete(workflowId);
    if (!batch.length) return;
    const receipts = batch.map((w) => w.receipt);
    // The earliest deadline in the batch, well inside the provider's own timeout: when Temporal is
    // away we answer 503 (and the provider retries) rather than a late 200.
    const deadlineAtMs = Math.min(...batch.map((w) => w.deadlineAtMs));
    const sending = this.send(workflowId, receipts, deadlineAtMs).then(
      () => batch.forEach((w) => w.resolve()),
      (err) => batch.forEach((w) => w.reject(err)),
    );
    this.inFlight.set(workflowId, sending);
    await sending;
    this.inFlight.delete(workflowId);
    // What arrived meanwhile goes in the next batch.
    if (this.queues.get(workflowId)?.length) void this.flush(workflowId);
  }

  /**
   * Resolves once every call this batcher made has settled. A try no longer awaited may sit in the
   * client's retry backoff, whose timer makes a call on the connection when it fires, and throws if the
   * connection was closed by then: so the API waits for this after it stops taking requests and before it
   * closes its connection.
   */
  async settled(): Promise<void> {
    while (this.unsettled.size) await Promise.allSettled([...this.unsettled]);
  }

  private track<T>(call: Promise<T>): Promise<T> {
    this.unsettled.add(call);
    const untrack = () => void this.unsettled.delete(call);
    call.then(untrack, untrack);
    return call;
  }

  /**
   * First as an update, answered once the instance holds the webhooks: under a flood the instance
   * continues as new often, and a signal arriving meanwhile fails that workflow task, after which the
   * worker replays the whole run (seconds of stall); an update is moved to the new run instead. When the
   * instance does not answer within `updateBudgetMs` (no worker, a long replay) or refuses, the same
   * webhooks go as a signal, durable at once; the instance drops a second copy by the webhooks' keys.
   */
  private async send(workflowId: string, receipts: WebhookReceipt[], deadlineAtMs: number): Promise<void> {
    const handle = this.client.workflow.getHandle(workflowId);
    const sentAtMs = Date.now();
    const updateUntilMs = Math.min(sentAtMs + this.opts.updateBudgetMs, deadlineAtMs - this.opts.signalReserveMs);
    if (await this.update(handle, { receipts, sentAtMs }, updateUntilMs)) {
      this.counts.updates++;
      return;
    }
    await this.track(this.client.withDeadline(deadlineAtMs, () => handle.signal(webhooksSignal, receipts)));
    this.counts.signals++;
  }

  /**
   * True once the instance has taken the update; false when it refused it or gave no answer by `untilMs`.
   * A try caught by a continue-as-new is moved to the new run by the client's retry, after a backoff of
   * 1.7 s (in the bench's runs) that no deadline cuts short, though the new run could take it at once: so
   * another try starts every `updateTryMs` while none has answered, all under one update id (a try that
   * finds the update still waiting in the same run joins it), and the first answer counts.
   */
  private update(handle: WorkflowHandle, input: { receipts: WebhookReceipt[]; sentAtMs: number }, untilMs: number): Promise<boolean> {
    const updateId = randomUUID();
    return new Promise<boolean>((resolve) => {
      let answered = false;
      const answer = (taken: boolean) => {
        if (answered) return;
        answered = true;
        clearTimeout(budget);
        resolve(taken);
      };
      const budget = setTimeout(() => answer(false), Math.max(0, untilMs - Date.now()));
      const tryOnce = () => {
        if (answered) return;
        this.track(this.client.withDeadline(untilMs, () => handle.executeUpdate(acceptWebhooksUpdate, { args: [input], updateId }))).then(
          () => answer(true),
          // No answer yet is left to the budget and the other tries; anything else (refused, not found) now.
          (err) => (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err) ? undefined : answer(false)),
        );
        if (Date.now() + this.opts.updateTryMs < untilMs) setTimeout(tryOnce, this.opts.updateTryMs);
      };
      if (untilMs > Date.now()) tryOnce();
      else answer(false);
    });
  }
}
