import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { notFound } from '../errors';
import { ElementsAccount, ElementsTokenHash } from '../temporal/search-attributes';
import { instanceWorkflowId } from '../workflows/ids';
import type { instanceWorkflow } from '../workflows/instance';
import type { Caller } from './auth';

/** The caller's running instance, or 404 whether it is missing, deleted or someone else's. */
export async function findOwnedInstance(client: Client, who: Caller, rawId: string): Promise<WorkflowHandle<typeof instanceWorkflow>> {
  if (!/^\d{1,15}$/.test(rawId)) throw notFound(`Instance ${rawId} not found`);
  const handle = client.workflow.getHandle<typeof instanceWorkflow>(instanceWorkflowId(rawId));
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notFound(`Instance ${rawId} not found`);
    throw err;
  }
  const account = description.typedSearchAttributes.get(ElementsAccount);
  const tokenHash = description.typedSearchAttributes.get(ElementsTokenHash);
  if (
    description.status.name !== 'RUNNING' ||
    !account ||
    !who.accountIds.includes(account) ||
    (who.tokenHash !== undefined && who.tokenHash !== tokenHash)
  ) {
    throw notFound(`Instance ${rawId} not found`);
  }
  return handle;
}

/** Ended without being deleted: the workflow was terminated, failed or timed out. */
const ENDED_UNDELETED = new Set(['TERMINATED', 'FAILED', 'TIMED_OUT']);

/**
 * The caller's instance whose workflow ended without being deleted (an operator terminated it), or
 * 404. Only deleting it is possible: its provider callbacks are then taken down.
 */
export async function findOwnedEndedInstance(client: Client, who: Caller, rawId: string): Promise<WorkflowHandle<typeof instanceWorkflow>> {
  if (!/^\d{1,15}$/.test(rawId)) throw notFound(`Instance ${rawId} not found`);
  const handle = client.workflow.getHandle<typeof instanceWorkflow>(instanceWorkflowId(rawId));
  const description = await handle.describe().catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) throw notFound(`Instance ${rawId} not found`);
    throw err;
  });
  const account = description.typedSearchAttributes.get(ElementsAccount);
  if (!ENDED_UNDELETED.has(description.status.name) || !account || !who.accountIds.includes(account) || who.tokenHash !== undefined) {
    throw notFound(`Instance ${rawId} not found`);
  }
  return handle;
}
