import { createDeliveryActivities } from './deliver';
import type { EndpointGate } from './endpoint-gate';
import { createPollActivities, type PollDeps } from './poll';
import { createWebhookActivities } from './webhooks';

/** `callbackTimeoutMs`: how long a callback has to answer a delivery (default 30 s); `endpointGate`: see deliver.ts. */
export function createActivities(deps: PollDeps & { callbackTimeoutMs?: number; endpointGate?: EndpointGate }) {
  return { ...createPollActivities(deps), ...createWebhookActivities(deps), ...createDeliveryActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
