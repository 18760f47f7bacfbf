import { deliverNotification } from './deliver';
import { createPollActivities, type PollDeps } from './poll';

export function createActivities(deps: PollDeps) {
  return { ...createPollActivities(deps), deliverNotification };
}

export type Activities = ReturnType<typeof createActivities>;
