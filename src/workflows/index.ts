// The worker's workflow bundle: every workflow type it runs.
export { instanceWorkflow } from './instance';
export { deliveryWorkflow } from './delivery';
export { cleanupWorkflow } from './cleanup';
