// The worker's workflow bundle: every workflow type it runs.
export { instanceWorkflow } from './instance';
export { deliveryWorkflow } from './delivery';
export { deliveryBatchWorkflow } from './delivery-batch';
export { deliveryLaneWorkflow } from './delivery-lane';
export { cleanupWorkflow } from './cleanup';
