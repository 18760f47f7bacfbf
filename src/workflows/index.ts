// The worker's workflow bundle: every workflow type it runs.
export { instanceWorkflow } from './instance';
export { deliveryWorkflow } from './delivery';
export { deliveryBatchWorkflow } from './delivery-batch';
export { cleanupWorkflow } from './cleanup';
