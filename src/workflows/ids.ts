// Workflow ids are built and read here only: the API, the activities and the workflows share them.

const INSTANCE = 'instance-';
const DELIVERY = 'delivery-';
const CLEANUP = 'cleanup-';
const BATCH = 'deliveries-';
const LANE = 'ordered-';

export const instanceWorkflowId = (id: number | string) => `${INSTANCE}${id}`;
export const deliveryWorkflowId = (eventId: string) => `${DELIVERY}${eventId}`;
/** A batch of notifications' first attempts; `batchKey` is derived from their eventIds. */
export const deliveryBatchWorkflowId = (batchKey: string) => `${BATCH}${batchKey}`;
/** The lane that gives an ordered instance's delivery batches their turns, one at a time. */
export const orderedLaneWorkflowId = (instanceId: number | string) => `${LANE}${instanceId}`;
/** Takes down the provider callbacks of an instance whose own workflow can no longer do it. */
export const cleanupWorkflowId = (id: number | string) => `${CLEANUP}${id}`;

/** The instance id of an `instance-<id>` workflow id. */
export const instanceIdOf = (workflowId: string) => Number(workflowId.slice(INSTANCE.length));
/** The eventId of a `delivery-<eventId>` workflow id. */
export const eventIdOf = (workflowId: string) => (workflowId.startsWith(DELIVERY) ? workflowId.slice(DELIVERY.length) : workflowId);
