// Workflow ids are built and read here only: the API, the activities and the workflows share them.

const INSTANCE = 'instance-';
const DELIVERY = 'delivery-';

export const instanceWorkflowId = (id: number | string) => `${INSTANCE}${id}`;
export const deliveryWorkflowId = (eventId: string) => `${DELIVERY}${eventId}`;

/** The instance id of an `instance-<id>` workflow id. */
export const instanceIdOf = (workflowId: string) => Number(workflowId.slice(INSTANCE.length));
/** The eventId of a `delivery-<eventId>` workflow id. */
export const eventIdOf = (workflowId: string) => (workflowId.startsWith(DELIVERY) ? workflowId.slice(DELIVERY.length) : workflowId);
