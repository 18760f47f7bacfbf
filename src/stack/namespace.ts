import { isGrpcServiceError, type Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { ensureSearchAttributes } from '../temporal/register-search-attributes';
import { allSearchAttributes } from '../temporal/search-attributes';
import { waitFor } from './process';

/**
 * Closed workflows (delivered notifications, deleted instances) stay readable this long. Cloud
 * Elements kept event logs for 7 days; Temporal's auto-setup image defaults to 1 day.
 */
export const DEFAULT_RETENTION = '7d';

/** `TEMPORAL_RETENTION`: `7d`, `168h`, `36h`... in seconds; at least a day (Temporal's minimum). */
export function parseRetention(text: string): number {
  const m = /^\s*(\d+)\s*(d|h)\s*$/i.exec(text);
  if (!m) throw new Error(`TEMPORAL_RETENTION: "${text}" is not a duration like 7d or 168h`);
  const seconds = Number(m[1]) * (m[2]!.toLowerCase() === 'd' ? 86_400 : 3_600);
  if (seconds < 86_400) throw new Error(`TEMPORAL_RETENTION: ${text} is under Temporal's minimum of one day`);
  return seconds;
}

const ALREADY_EXISTS = 6; // gRPC status code

/**
 * Creates the namespace with its retention, or sets the retention of an existing one to the one
 * asked for; then makes sure the app's search attributes exist and the frontend validates queries
 * on them (its caches refresh on their own schedule).
 */
export async function ensureNamespace(connection: Connection, namespace: string, retentionSeconds: number): Promise<{ created: boolean }> {
  const ttl = msToTs(retentionSeconds * 1000);
  let created = true;
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: ttl });
  } catch (err) {
    if (!(isGrpcServiceError(err) && err.code === ALREADY_EXISTS)) throw err;
    created = false;
  }
  // A new namespace reaches the frontend's cache within seconds.
  await waitFor(
    async () => !!(await connection.workflowService.describeNamespace({ namespace })).namespaceInfo,
    `namespace ${namespace}`,
    60_000,
  );
  const { config } = await connection.workflowService.describeNamespace({ namespace });
  if (Number(config?.workflowExecutionRetentionTtl?.seconds ?? 0) !== retentionSeconds) {
    await connection.workflowService.updateNamespace({ namespace, config: { workflowExecutionRetentionTtl: ttl } });
  }
  await ensureSearchAttributes(connection, namespace);
  // Queries on the attributes are accepted once the frontend's search-attribute cache has them.
  const query = allSearchAttributes.map((k) => `${k.name} IS NULL`).join(' AND ');
  await waitFor(
    async () => {
      await connection.workflowService.countWorkflowExecutions({ namespace, query });
      return true;
    },
    `the search attributes in namespace ${namespace}`,
    60_000,
  );
  return { created };
}

/** The namespace's retention, as the server describes it, in seconds. */
export async function namespaceRetentionSeconds(connection: Connection, namespace: string): Promise<number> {
  const { config } = await connection.workflowService.describeNamespace({ namespace });
  return Number(config?.workflowExecutionRetentionTtl?.seconds ?? 0);
}
