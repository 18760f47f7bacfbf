import type { z } from 'zod';
import type { FieldError } from '../../errors';
import type { InstanceView, ResourceStatus } from '../../instances/types';
import type { DeliveryAttempt, DeliveryRecord, DeliveryStatusName } from '../../workflows/types';
import type {
  createdInstanceSchema,
  deliveryAttemptSchema,
  deliveryRecordSchema,
  deliveryStatusSchema,
  fieldErrorSchema,
  instanceViewSchema,
  resourceStatusSchema,
} from './responses';

/**
 * Compile-time only: the answers' TypeScript types and the schemas the OpenAPI document is made from
 * must be the same type, so a field added to, removed from or changed in either fails `tsc` until the
 * other follows. Exact equality (not mere assignability), so an optional field cannot slip by either.
 */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Same<A, B> = Equal<Flat<A>, Flat<B>> extends true ? true : { typesDiffer: [A, B] };
/** One object type for an intersection, so `A & B` equals the same fields written out. */
type Flat<T> = T extends object ? { [K in keyof T]: T[K] } : T;

// Each line fails with "Type 'true' is not assignable to ..." naming both types when they drift apart.
export const typesInStep: [
  Same<FieldError, z.infer<typeof fieldErrorSchema>>,
  Same<ResourceStatus, z.infer<typeof resourceStatusSchema>>,
  Same<InstanceView, z.infer<typeof instanceViewSchema>>,
  // The create answer: the instance as listed (no status) and its token.
  Same<Omit<InstanceView, 'status'> & { token: string }, z.infer<typeof createdInstanceSchema>>,
  Same<DeliveryStatusName, z.infer<typeof deliveryStatusSchema>>,
  Same<DeliveryAttempt, z.infer<typeof deliveryAttemptSchema>>,
  Same<DeliveryRecord, z.infer<typeof deliveryRecordSchema>>,
] = [true, true, true, true, true, true, true];
