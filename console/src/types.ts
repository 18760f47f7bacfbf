// What the console reads from the API: the server's own types, imported as types only (nothing of the
// server enters the bundle), so the console cannot drift from what the API answers.
import type { ElementDescription } from '../../src/elements/description';
import type { DeliveryStatusName } from '../../src/workflows/types';

export type { ElementDescription } from '../../src/elements/description';
export type { DatesConfiguration } from '../../src/polling/classify';
export type { FieldError } from '../../src/errors';
export type { InstanceSummary, InstanceView as Instance, ResourceStatus } from '../../src/instances/types';
export type { DeliveryAttempt, DeliveryRecord, DeliveryStatusName as DeliveryStatus } from '../../src/workflows/types';

export type ConfigurationField = ElementDescription['configuration'][number];
export type ElementAuthentication = ElementDescription['authentication'];
export type PollResource = NonNullable<ElementDescription['events']['polling']>['resources'][string];

export const DELIVERY_STATUSES: DeliveryStatusName[] = ['pending', 'delivered', 'failed', 'gone', 'cancelled'];

/** One entry of `GET /instances/{id}/events`. */
export interface NotificationListItem {
  eventId: string;
  status: DeliveryStatusName;
  events?: number;
  createdDate?: string;
}
