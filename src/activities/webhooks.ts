import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ProviderContext, ProviderState, WebhookElement } from '../elements/element';
import { findElement } from '../elements';
import { ProviderError } from '../errors';
import { secretKeysOf } from '../instances/secret-keys';
import { chunk } from '../events/notification';
import { pendingWebhooksQuery, tokensIssuedSignal } from '../workflows/messages';
import {
  PROVIDER_REFUSED,
  type DispatchWebhooksInput,
  type PendingWebhooksRange,
  type WebhookReceipt,
  type ProviderCallInput,
  type RefreshTokensInput,
  type RemoveStraysInput,
  type TokensIssued,
} from '../workflows/types';
import { contextOf, linksTo } from '../tracing/traceparent';
import { handOff } from './dispatch';
import type { PollDeps } from './poll';

function webhooksOf(elementKey: string): WebhookElement {
  const element = findElement(elementKey);
  if (!element?.webhooks) throw ApplicationFailure.nonRetryable(`element ${elementKey} has no webhooks`, 'UnknownElement');
  return element.webhooks;
}

export function createWebhookActivities(deps: PollDeps) {
  const ctxFor = (input: ProviderCallInput): ProviderContext => ({
    urls: deps.urls,
    configuration: deps.sealer.openKeys(input.credentials, secretKeysOf(findElement(input.elementKey)), input.instanceId),
    state: deps.sealer.openJson<ProviderState>(input.provider, { instanceId: input.instanceId, field: 'provider' }),
    signal: Context.current().cancellationSignal,
  });

  return {
    async registerCallback(input: ProviderCallInput & { event: string; uri: string }): Promise<{ callbackId: string }> {
      return webhooksOf(input.elementKey).register(ctxFor(input), input.event, input.uri);
    },

    /** A verifier the provider refuses fails for good (PROVIDER_REFUSED): the workflow drops it. */
    async confirmCallback(input: ProviderCallInput & { callbackId: string; verifier: string }): Promise<void> {
      try {
        await webhooksOf(input.elementKey).confirm(
          ctxFor(input),
          input.callbackId,
          deps.sealer.open(input.verifier, { instanceId: input.instanceId, field: 'verifier' }),
        );
      } catch (err) {
        if (err instanceof ProviderError && err.status === 400) throw ApplicationFailure.nonRetryable(err.message, PROVIDER_REFUSED);
        throw err;
      }
    },

    async resendVerification(input: ProviderCallInput & { callbackId: string }): Promise<void> {
      await webhooksOf(input.elementKey).requestVerification(ctxFor(input), input.callbackId);
    },

    /**
     * Removes the callbacks at the instance's uri that it does not know (`keep`): a registration the
     * provider accepted but whose answer never came back leaves one. Also used for an instance whose
     * workflow was terminated, with `keep` empty; its access token may have expired by then.
     */
    async removeStrayCallbacks(input: RemoveStraysInput): Promise<{ removed: number }> {
      const element = webhooksOf(input.elementKey);
      const ctx = ctxFor(input);
      const activity = Context.current();
      // Tokens refreshed by an earlier try of this activity: the refresh token they replaced is spent.
      const earlier = activity.info.heartbeatDetails as { sealedTokens?: string } | undefined;
      if (earlier?.sealedTokens) {
        ctx.state = {
          ...ctx.state,
          tokens: deps.sealer.openJson(earlier.sealedTokens, { instanceId: input.instanceId, field: 'provider' }),
        };
      }
      const tokens = ctx.state.tokens;
      // Only for a workflow that no longer runs: a running one holds the single-use refresh token.
      if (input.instanceClosed && tokens && element.refreshTokens && tokens.expiresAtMs < Date.now() + 60_000) {
        const fresh = await element.refreshTokens(ctx);
        activity.heartbeat({ sealedTokens: deps.sealer.sealJson(fresh, { instanceId: input.instanceId, field: 'provider' }) });
        ctx.state = { ...ctx.state, tokens: fresh };
      }
      const strays = (await element.callbacksAt(ctx, input.uri)).filter((c) => !input.keep.includes(c.callbackId));
      for (const stray of strays) await element.deregister(ctx, stray.callbackId);
      if (strays.length) Context.current().log.info('stray callbacks removed', { instanceId: input.instanceId, removed: strays.length });
      return { removed: strays.length };
    },

    async deregisterCallback(input: ProviderCallInput & { callbackId: string }): Promise<void> {
      await webhooksOf(input.elementKey).deregister(ctxFor(input), input.callbackId);
    },

    /**
     * Refresh tokens are single use, so the new tokens are made durable (a signal to the instance,
     * and heartbeat details for this activity's own retry) before anything else can fail.
     */
    async refreshTokens(input: RefreshTokensInput): Promise<{ expiresAtMs: number }> {
      const ctx = Context.current();
      const earlier = ctx.info.heartbeatDetails as { issued?: TokensIssued } | undefined;
      let issued = earlier?.issued;
      if (!issued) {
        const providerCtx = ctxFor(input);
        const tokens = await webhooksOf(input.elementKey).refreshTokens!(providerCtx);
        issued = {
          provider: deps.sealer.sealJson({ ...providerCtx.state, tokens }, { instanceId: input.instanceId, field: 'provider' }),
          issuedAtMs: tokens.issuedAtMs,
          expiresAtMs: tokens.expiresAtMs,
        };
        ctx.heartbeat({ issued });
      }
      await deps.client.workflow.getHandle(input.workflowId).signal(tokensIssuedSignal, issued);
      return { expiresAtMs: issued.expiresAtMs };
    },

    /** Hands accepted webhooks to delivery (`dispatch`), traced when tracing is on. */
    async dispatchWebhooks(input: DispatchWebhooksInput): Promise<{ notifications: number }> {
      const receipts = input.receipts ?? (await pendingReceipts(input.pending!));
      if (!deps.tracer) return dispatch(input, receipts);
      // This runs from the instance's loop, in the instance's trace: the hand-off (and so the delivery
      // batch's workflow, through its start's headers) goes in the first webhook's request's trace
      // instead, linked to the others' and to this activity's own span.
      const [first, ...others] = receipts.map((r) => r.traceparent);
      // Webhooks received before tracing was turned on carry none: then the activity's own trace.
      const parent = first ? contextOf(first) : context.active();
      const activitySpan = first ? trace.getSpanContext(context.active()) : undefined;
      const span = deps.tracer.startSpan(
        'DispatchWebhooks',
        {
          attributes: {
            'element_events.instance_id': input.instance.id,
            'element_events.element_key': input.instance.elementKey,
            'element_events.webhooks': receipts.length,
          },
          links: [...linksTo(others), ...(activitySpan ? [{ context: activitySpan }] : [])],
        },
        parent,
      );
      try {
        const result = await context.with(trace.setSpan(parent, span), () => dispatch(input, receipts));
        span.setAttribute('element_events.notifications', result.notifications);
        return result;
      } catch (err) {
        // The error's name only: its text may quote what a provider or Temporal answered.
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).name });
        throw err;
      } finally {
        span.end();
      }
    },
  };

  /**
   * The webhooks a hand-off delivers, from the instance that scheduled it (this very run): they stay
   * pending there until this activity is done, so every attempt gets the same ones.
   */
  async function pendingReceipts(range: PendingWebhooksRange): Promise<WebhookReceipt[]> {
    const execution = Context.current().info.workflowExecution;
    if (!execution) throw ApplicationFailure.nonRetryable('a hand-off by number runs only for an instance', 'NoInstance');
    const receipts = await deps.client.workflow.getHandle(execution.workflowId, execution.runId).query(pendingWebhooksQuery, range);
    // Cannot happen while the instance waits for this activity; retried (never dropped) if it does.
    if (!receipts) throw new Error(`webhooks ${range.from} to ${range.from + range.count - 1} are not pending at the instance`);
    return receipts;
  }

  /** Standardizes accepted webhooks and hands them to delivery, at most 20 events a notification. */
  async function dispatch(input: DispatchWebhooksInput, receipts: WebhookReceipt[]): Promise<{ notifications: number }> {
    const element = webhooksOf(input.instance.elementKey);
    const batches = chunk(receipts, element.maxEventsPerNotification);
    await handOff(
      deps,
      input.instance,
      input.target,
      batches.map((batch) => ({
        instance: input.instance,
        date: batch[batch.length - 1]!.receivedAt,
        events: batch.map((r) => ({ ...element.standardize(r.fields), elementKey: input.instance.elementKey, date: r.receivedAt })),
        // One webhook: its form fields, as Cloud Elements sends them; several: those objects in event order.
        raw: batch.length === 1 ? batch[0]!.fields : batch.map((r) => r.fields),
        identity: ['webhooks', ...batch.map((r) => r.id ?? r.key ?? '')],
      })),
      { ordered: input.ordered },
    );
    return { notifications: batches.length };
  }
}
