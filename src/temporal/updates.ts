import { isGrpcServiceError, ServiceError } from '@temporalio/client';

const ATTEMPTS = 3;
const FAILED_PRECONDITION = 9; // gRPC status code

/**
 * The server aborts an update whose workflow task fails, for instance when a timer fires or a
 * signal lands while that task completes the workflow (UnhandledCommand); the update was not
 * applied, so it is sent again.
 */
const abortedWithItsTask = (err: unknown) =>
  err instanceof ServiceError &&
  isGrpcServiceError(err.cause) &&
  err.cause.code === FAILED_PRECONDITION &&
  /workflow task failure/i.test(err.cause.details ?? err.cause.message);

/** Runs `send` (an executeUpdate call) again when the server aborted the update with its workflow task. */
export async function retryAbortedUpdate<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (attempt >= ATTEMPTS || !abortedWithItsTask(err)) throw err;
    }
  }
}
