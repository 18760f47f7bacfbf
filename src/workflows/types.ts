import type { PollResource } from '../elements/element';
import type { InstanceSpec, ResourceStatus } from '../instances/types';

export interface DeliveryInput {
  eventId: string;
  instanceId: number;
  elementKey: string;
  accountId: string;
  callbackUrl: string;
  signatureKey?: string;
  /** The exact bytes the callback receives (and the signature covers), serialized once. */
  body: string;
  events: number;
}

export interface DeliveryResult {
  status: 'delivered' | 'failed';
  eventId: string;
  httpStatus?: number;
  error?: string;
}

export interface PollInput {
  instance: Pick<InstanceSpec, 'id' | 'name' | 'tags' | 'elementKey' | 'accountId' | 'configuration'>;
  callbackUrl: string;
  signatureKey?: string;
  resourceName: string;
  resource: PollResource;
  windowStartMs: number;
  windowEndMs: number;
}

export interface PollResult {
  pages: number;
  records: number;
  events: number;
  notifications: number;
  skipped: number;
}

/** Carried across continue-as-new. */
export interface InstanceState {
  watermarks: Record<string, ResourceStatus>;
  polls: number;
  nextPollAtMs?: number;
}

export interface InstanceWorkflowInput {
  spec: InstanceSpec;
  state?: InstanceState;
  /** Tests lower this to exercise continue-as-new; production relies on the server's suggestion. */
  maxHistoryEvents?: number;
}
