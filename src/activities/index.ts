import { deliverNotification } from './deliver';
import { createPollActivities, type PollDeps } from './poll';
import { createWebhookActivities } from './webhooks';

export function createActivities(deps: PollDeps) {
  return { ...createPollActivities(deps), ...createWebhookActivities(deps), deliverNotification };
}

export type Activities = ReturnType<typeof createActivities>;
