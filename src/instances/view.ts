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

/**
 * Where the Temporal UI shows a workflow: by id alone, which the UI redirects to the latest run, so
 * the link stays good across continue-as-new.
 */
export function temporalUiLink(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The latest `lastPollAt` among an instance's resources (ISO strings order as times). */
export function lastPollOf(resources: Record<string, { lastPollAt?: string }> | undefined): string | undefined {
  return Object.values(resources ?? {})
    .map((r) => r.lastPollAt)
    .filter((t): t is string => !!t)
    .sort()
    .at(-1);
}
