import { createHmac } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { fetch, type Response } from 'undici';
import { retryAfterMs } from '../elements/http';
import { attemptErrorCategory, callbackDispatcher, callbackUrlProblem, type CallbackPolicy } from '../events/callback-url';
import { elementsSignature } from '../events/notification';
import type { Sealer } from '../secrets/sealer';
import type { AttemptFailureDetails, DeliveryInput } from '../workflows/types';

export const CALLBACK_TIMEOUT_MS = 30_000;

/** Standard Webhooks headers: `v1,` + base64 HMAC-SHA256 over `id.timestamp.body`, keyed with the whsec_ secret. */
export function standardWebhookHeaders(eventId: string, body: string, secret: string, nowMs: number): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000).toString();
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signature = createHmac('sha256', key).update(`${eventId}.${timestamp}.${body}`, 'utf8').digest('base64');
  return { 'webhook-id': eventId, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

function attemptFailed(message: string, details: AttemptFailureDetails, type: string): ApplicationFailure {
  // The workflow runs the schedule, so no attempt is retried by Temporal itself.
  return ApplicationFailure.create({ message, type, details: [details], nonRetryable: true });
}

export function createDeliveryActivities({ sealer, callbackPolicy }: { sealer: Sealer; callbackPolicy: CallbackPolicy }) {
  // Resolves callback hosts at connect time and refuses forbidden addresses there, so a name cannot
  // pass a check and then answer with an inner address for the request (DNS rebinding).
  const dispatcher = callbackDispatcher(callbackPolicy);

  /** One attempt at POSTing a notification. */
  async function deliverNotification(input: DeliveryInput): Promise<{ status: number }> {
    // IP-literal hosts are never looked up, so the dispatcher cannot check them: this does.
    const problem = callbackUrlProblem(input.callbackUrl, callbackPolicy.publicOnly);
    if (problem) throw attemptFailed(`callback refused: ${problem}`, {}, 'CallbackRefusedAddress');

    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'element-events',
      'elements-webhook-id': input.eventId,
    };
    const open = (value: string, field: string) => sealer.open(value, { instanceId: input.instanceId, field });
    if (input.signatureKey) {
      headers['elements-webhook-signature'] = elementsSignature(input.body, open(input.signatureKey, 'event.notification.signature.key'));
    }
    if (input.webhookSecret) {
      const secret = open(input.webhookSecret, 'event.notification.webhook.secret');
      Object.assign(headers, standardWebhookHeaders(input.eventId, input.body, secret, Date.now()));
    }

    let response: Response;
    try {
      response = await fetch(input.callbackUrl, {
        method: 'POST',
        headers,
        body: input.body,
        // A redirect is a failure: following it could send signed events somewhere the app never named.
        redirect: 'manual',
        dispatcher,
        signal: AbortSignal.any([AbortSignal.timeout(CALLBACK_TIMEOUT_MS), Context.current().cancellationSignal]),
      });
    } catch (err) {
      // Only a coarse category goes on record: the error's text can name inner addresses and ports.
      const category = attemptErrorCategory(err);
      if (category === 'address not allowed') throw attemptFailed('callback refused: address not allowed', {}, 'CallbackRefusedAddress');
      const timedOut = (err as Error).name === 'TimeoutError';
      throw attemptFailed(
        `callback unreachable: ${timedOut ? `no answer within ${CALLBACK_TIMEOUT_MS / 1000} s` : category}`,
        {},
        'CallbackUnreachable',
      );
    }
    await response.body?.cancel();
    if (response.status >= 200 && response.status < 300) return { status: response.status };

    const hinted =
      response.status === 429 || response.status === 503 ? retryAfterMs(response.headers.get('retry-after'), Date.now()) : undefined;
    throw attemptFailed(
      `callback answered ${response.status}`,
      { status: response.status, retryAfterMs: hinted !== undefined ? Math.max(hinted, 1000) : undefined },
      'CallbackRefused',
    );
  }
  return { deliverNotification };
}
