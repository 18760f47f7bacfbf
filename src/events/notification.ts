import { createHash, createHmac } from 'node:crypto';

export type EventType = 'CREATED' | 'UPDATED' | 'DELETED' | 'UNKNOWN';

export interface StandardEvent {
  eventType: EventType;
  objectType: string;
  objectId: string;
  elementKey: string;
  date: string;
}

export interface InstanceRef {
  id: number;
  name: string;
  tags: string[];
  elementKey: string;
}

export interface Notification {
  message: {
    eventId: string;
    instanceId: number;
    instanceName: string;
    instanceTags: string[];
    elementKey: string;
    date: string;
    events: StandardEvent[];
    raw: unknown;
  };
}

/** Cloud Elements' figures: notifications carry at most this many events. */
export const MAX_EVENTS_POLLING = 10;
export const MAX_EVENTS_WEBHOOKS = 20;

export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!(size >= 1)) throw new RangeError(`chunk size must be at least 1, not ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * An eventId derived from what the notification reports, so that a retried poll that finds the same
 * changes produces the same id (and the delivery is deduplicated), while different content can never
 * be mistaken for an already-delivered notification.
 */
export function eventIdFor(instanceId: number, parts: readonly string[]): string {
  const h = createHash('sha256')
    .update(JSON.stringify([instanceId, ...parts]))
    .digest('hex');
  // UUID layout (version 8: custom) so receivers that expect UUIDs accept it.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function buildNotification(args: {
  eventId: string;
  instance: InstanceRef;
  date: string;
  events: StandardEvent[];
  raw: unknown;
}): Notification {
  return {
    message: {
      eventId: args.eventId,
      instanceId: args.instance.id,
      instanceName: args.instance.name,
      instanceTags: args.instance.tags,
      elementKey: args.instance.elementKey,
      date: args.date,
      events: args.events,
      raw: args.raw,
    },
  };
}

/** `Elements-Webhook-Signature`: HMAC-SHA256 over the exact body bytes, base64. */
export function elementsSignature(body: string, key: string): string {
  return `sha256=${createHmac('sha256', key).update(body, 'utf8').digest('base64')}`;
}
