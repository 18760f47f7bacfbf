import type { RequestHandler } from 'express';
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

/**
 * Counts each post to the webhook receiver once it is answered: accepted by kind (the handler puts
 * `res.locals.webhookKind`), refused by the reason its status stands for, or the handler's own
 * (`res.locals.webhookRefusal`: `busy`, a 503 that is the receiver shedding made-up ids, not Temporal away). Counted from the answer, so
 * every refusal is counted however it was made (a handler's error, a body parser's 413). A post
 * whose client went away before the answer is not counted.
 */
export const countWebhookAnswers: RequestHandler = (req, res, next) => {
  // Read now: by the time the answer is out, an error handler outside this route has the request.
  const element = elementLabel((req.params as { elementKey?: string }).elementKey);
  res.once('finish', () => {
    if (res.statusCode >= 200 && res.statusCode < 300) {
      const kind = res.locals.webhookKind === 'verification' ? 'verification' : 'notification';
      webhooksReceived.inc({ element, kind });
    } else {
      const reason = typeof res.locals.webhookRefusal === 'string' ? res.locals.webhookRefusal : REASONS[res.statusCode];
      webhooksRefused.inc({ element, reason: reason ?? 'error' });
    }
  });
  next();
};
