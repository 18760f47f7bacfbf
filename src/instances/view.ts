import type { InstanceSpec, InstanceView } from './types';

/** The instance as listed: no secrets, no live status. Pure, so the workflow can use it too. */
export function publicView(spec: InstanceSpec): InstanceView {
  return {
    id: spec.id,
    name: spec.name,
    tags: spec.tags,
    element: { key: spec.elementKey },
    createdDate: spec.createdDate,
    eventsEnabled: spec.events.enabled,
    configuration: spec.publicConfiguration,
  };
}
