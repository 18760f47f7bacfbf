import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './activities';

// The codec UI test's workflow: one activity whose input is a customer record, which the worker's
// payload codec encrypts in history and the Temporal UI shows only through the codec server.
const { rememberContact } = proxyActivities<typeof activities>({ startToCloseTimeout: '30 seconds' });

export async function contactShowcase(contact: activities.Contact): Promise<string> {
  return await rememberContact(contact);
}
