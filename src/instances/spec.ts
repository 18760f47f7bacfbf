import type { Element } from '../elements/element';
import type { Sealer } from '../secrets/sealer';
import { redactConfiguration, secretKeysOf } from './secret-keys';
import type { EventsSettings, InstanceSpec, PreviousKeys } from './types';

/**
 * The configuration-derived parts of an instance's spec, sealed for that instance: the whole
 * configuration (for PATCH), its public form, the credentials provider calls get, and the events
 * settings with their keys sealed.
 */
export function sealedSettings(
  element: Element,
  configuration: Record<string, unknown>,
  events: EventsSettings,
  sealer: Sealer,
  instanceId: number,
): Pick<InstanceSpec, 'configuration' | 'publicConfiguration' | 'credentials' | 'events'> {
  const sealed = sealer.sealKeys(configuration, secretKeysOf(element), instanceId);
  const seal = (value: string | undefined, field: string) => value && sealer.seal(value, { instanceId, field });
  return {
    configuration: sealed,
    publicConfiguration: redactConfiguration(element, configuration),
    credentials: Object.fromEntries(element.credentialKeys.filter((k) => Object.hasOwn(sealed, k)).map((k) => [k, sealed[k]])),
    events: {
      ...events,
      signatureKey: seal(events.signatureKey, 'event.notification.signature.key'),
      webhookSecret: seal(events.webhookSecret, 'event.notification.webhook.secret'),
    },
  };
}

const SIGNING_FIELDS = { signatureKey: 'event.notification.signature.key', webhookSecret: 'event.notification.webhook.secret' } as const;

/**
 * The keys a change replaces, kept (sealed, as they were) until `untilMs` so that deliveries carry the
 * old signature beside the new one while receivers switch over; earlier replaced keys still in their
 * grace period are kept too. `next` holds the new keys in the clear.
 */
export function replacedKeys(
  current: EventsSettings,
  next: Pick<EventsSettings, 'signatureKey' | 'webhookSecret'>,
  sealer: Sealer,
  instanceId: number,
  nowMs: number,
  graceMs: number,
): PreviousKeys | undefined {
  const kept = current.previousKeys && current.previousKeys.untilMs > nowMs ? current.previousKeys : undefined;
  const replaced: Partial<PreviousKeys> = {};
  for (const [name, field] of Object.entries(SIGNING_FIELDS) as [keyof typeof SIGNING_FIELDS, string][]) {
    const sealed = current[name];
    if (sealed && sealer.open(sealed, { instanceId, field }) !== next[name]) replaced[name] = sealed;
  }
  if (!Object.keys(replaced).length || graceMs <= 0) return kept;
  return { ...kept, ...replaced, untilMs: nowMs + graceMs };
}
