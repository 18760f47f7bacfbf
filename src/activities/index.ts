import { createDeliveryActivities } from './deliver';
import { createPollActivities, type PollDeps } from './poll';
import { createWebhookActivities } from './webhooks';

export function createActivities(deps: PollDeps) {
  return { ...createPollActivities(deps), ...createWebhookActivities(deps), ...createDeliveryActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
