import type { Element } from '../elements/element';
import type { Sealer } from '../secrets/sealer';
import { redactConfiguration, secretKeysOf } from './secret-keys';
import type { EventsSettings, InstanceSpec } from './types';

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
