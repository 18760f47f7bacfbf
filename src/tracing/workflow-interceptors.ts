/**
 * The workflow interceptors a traced worker's bundle includes: the SDK's OpenTelemetry ones, except
 * around updates and queries, which pass untraced. Their spans there break replay: a validator and a
 * query run only live, so spans made in them advance the workflow's random numbers live and not on
 * replay (sdk-typescript#2023), and the awaits around an update handler move its completion relative to
 * the workflow's own commands (a recorded update's completion after a cancelled timer replayed before
 * it: a nondeterminism error). The client's span of an update still carries its trace to the worker.
 */
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type { Next, QueryInput, UpdateInput, WorkflowInboundCallsInterceptor, WorkflowInterceptorsFactory } from '@temporalio/workflow';

class InboundInterceptor extends OpenTelemetryInboundInterceptor {
  override handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    return next(input);
  }

  override validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>): void {
    next(input);
  }

  override handleQuery(input: QueryInput, next: Next<WorkflowInboundCallsInterceptor, 'handleQuery'>): Promise<unknown> {
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new InboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
