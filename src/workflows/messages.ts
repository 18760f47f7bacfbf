import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { InstanceView } from '../instances/types';

// Declared once, used by the workflows and the API alike.
export const getInstanceQuery = defineQuery<InstanceView>('getInstance');
/** Stops polling (cancelling a poll in flight) and lets the workflow end; returns once it is stopped. */
export const deleteInstanceUpdate = defineUpdate<void>('deleteInstance');
