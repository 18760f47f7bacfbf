import { createDeliveryActivities } from './deliver';
import { createPollActivities, type PollDeps } from './poll';
import { createWebhookActivities } from './webhooks';

/** `callbackTimeoutMs`: how long a callback has to answer a delivery (default 30 s). */
export function createActivities(deps: PollDeps & { callbackTimeoutMs?: number }) {
  return { ...createPollActivities(deps), ...createWebhookActivities(deps), ...createDeliveryActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
