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
