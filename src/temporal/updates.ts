import { isGrpcServiceError, ServiceError } from '@temporalio/client';

/**
 * A busy instance (say a hundred polls failing and retrying) keeps adding events while the task that
 * would apply the update completes, so several attempts in a row can be aborted: a few more, spaced.
 */
const ATTEMPTS = 8;
const PAUSE_MS = 250;
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
export async function retryAbortedUpdate<T>(send: () => Promise<T>, pauseMs = PAUSE_MS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (attempt >= ATTEMPTS || !abortedWithItsTask(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, pauseMs * attempt));
    }
  }
}
