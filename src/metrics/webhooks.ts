import type { ServerResponse } from 'node:http';
import { elementLabel } from './labels';
import { webhooksReceived, webhooksRefused } from './metrics';

/** What a refusal's status says, as the `reason` label. */
const REASONS: Record<number, string> = {
  400: 'malformed',
  401: 'bad_signature',
  404: 'not_found',
  413: 'too_large',
  429: 'rate_limited',
  503: 'unavailable',
};

/** What the receiver learned of a post while answering it. */
export interface WebhookOutcome {
  kind?: 'notification' | 'verification';
  /** A refusal of the receiver's own making (`busy`: a 503 that sheds made-up ids, not Temporal away). */
  refusal?: string;
}

/**
 * Counts a post to the webhook receiver once it is answered: accepted by kind, refused by the reason
 * its status stands for, or the receiver's own (`outcome.refusal`). Counted from the answer, so every
 * refusal is counted however it was made (a handler's error, the body reader's 413). A post whose
 * client went away before the answer is not counted.
 */
export function countWebhookAnswer(res: ServerResponse, elementKey: string | undefined, outcome: WebhookOutcome): void {
  // The label is settled now, from the path, whatever the answer.
  const element = elementLabel(elementKey);
  res.once('finish', () => {
    if (res.statusCode >= 200 && res.statusCode < 300) {
      webhooksReceived.inc({ element, kind: outcome.kind === 'verification' ? 'verification' : 'notification' });
    } else {
      webhooksRefused.inc({ element, reason: outcome.refusal ?? REASONS[res.statusCode] ?? 'error' });
    }
  });
}
