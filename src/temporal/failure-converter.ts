import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Failure messages and stack traces go into an encoded payload, which the payload codec encrypts: an
 * activity's error may quote what a provider answered (a record, an address). Failure types stay
 * readable (the workflows and the UI act on them). Loaded by path: the workflow bundle holds it too.
 * Failures recorded before (plain messages) still decode.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
