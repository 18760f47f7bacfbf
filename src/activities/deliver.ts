import { ApplicationFailure, Context } from '@temporalio/activity';
import { retryAfterMs } from '../elements/http';
import { elementsSignature } from '../events/notification';
import type { Sealer } from '../secrets/sealer';
import type { DeliveryInput } from '../workflows/types';

export const CALLBACK_TIMEOUT_MS = 30_000;

export function createDeliveryActivities({ sealer }: { sealer: Sealer }) {
  return { deliverNotification: (input: DeliveryInput) => deliverNotification(input, sealer) };
}

/** One attempt at POSTing a notification; Temporal's retry policy makes the schedule. */
async function deliverNotification(input: DeliveryInput, sealer: Sealer): Promise<{ status: number }> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'element-events',
    'elements-webhook-id': input.eventId,
  };
  if (input.signatureKey) headers['elements-webhook-signature'] = elementsSignature(input.body, sealer.open(input.signatureKey));

  let response: Response;
  try {
    response = await fetch(input.callbackUrl, {
      method: 'POST',
      headers,
      body: input.body,
      // A redirect is a failure: following it could send signed events somewhere the app never named.
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(CALLBACK_TIMEOUT_MS), Context.current().cancellationSignal]),
    });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    throw ApplicationFailure.retryable(
      `callback unreachable: ${(err as Error).name === 'TimeoutError' ? `no answer within ${CALLBACK_TIMEOUT_MS / 1000} s` : cause?.message ?? (err as Error).message}`,
      'CallbackUnreachable',
    );
  }
  await response.body?.cancel();
  if (response.status >= 200 && response.status < 300) return { status: response.status };

  const hinted =
    response.status === 429 || response.status === 503 ? retryAfterMs(response.headers.get('retry-after'), Date.now()) : undefined;
  throw ApplicationFailure.create({
    message: `callback answered ${response.status}`,
    type: 'CallbackRefused',
    details: [{ status: response.status }],
    nextRetryDelay: hinted !== undefined ? Math.max(hinted, 1000) : undefined,
  });
}
