import type { Element } from '../elements/element';

const REDACTED = '********';

/** Configuration keys holding secrets: the element's own and the notification signature key. */
export const secretKeysOf = (element: Element | undefined): string[] => [
  ...(element?.secretKeys ?? []),
  'event.notification.signature.key',
  'event.notification.webhook.secret',
];

/** The configuration with every secret masked, for responses and memos. */
export function redactConfiguration(element: Element | undefined, configuration: Record<string, unknown>): Record<string, unknown> {
  const secret = new Set(secretKeysOf(element));
  return Object.fromEntries(Object.entries(configuration).map(([k, v]) => [k, secret.has(k) && v !== undefined ? REDACTED : v]));
}
