import { ServiceError } from '@temporalio/client';
import { retryAbortedUpdate } from '../../src/temporal/updates';

/** What the client throws when the server aborts an update with its workflow task (seen in CI). */
const grpcError = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
const aborted = () =>
  new ServiceError('Workflow Update failed', {
    cause: grpcError(9, 'Unable to perform workflow execution update due to unexpected workflow task failure.'),
  });

describe('updates aborted with their workflow task', () => {
  test('are sent again, and the answer of the one that went through is returned', async () => {
    let calls = 0;
    const send = async () => {
      if (++calls === 1) throw aborted();
      return 'done';
    };
    await expect(retryAbortedUpdate(send, 0)).resolves.toBe('done');
    expect(calls).toBe(2);
  });

  test('are given up after eight tries', async () => {
    let calls = 0;
    await expect(
      retryAbortedUpdate(async () => {
        calls++;
        throw aborted();
      }, 0),
    ).rejects.toBeInstanceOf(ServiceError);
    expect(calls).toBe(8);
  });

  test('other failures, other FAILED_PRECONDITIONs included, are not retried', async () => {
    for (const err of [
      new Error('boom'),
      new ServiceError('x', { cause: grpcError(9, 'workflow execution already completed') }),
      new ServiceError('x', { cause: grpcError(14, 'unexpected workflow task failure') }),
    ]) {
      let calls = 0;
      await expect(
        retryAbortedUpdate(async () => {
          calls++;
          throw err;
        }),
      ).rejects.toBe(err);
      expect(calls).toBe(1);
    }
  });
});
