import type { DataConverter } from '@temporalio/common';
import { loadPayloadCodec, type EncryptionCodec } from './payload-codec';

/** The module whose `failureConverter` clients, workers and the workflow bundle share (`bundleWorkflowCode`'s option too). */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/** The key settings a data converter is made from. */
export interface PayloadKeySettings {
  PAYLOAD_KEYS?: string;
  SECRETS_KEY?: string;
  DATA_DIR: string;
}

/**
 * What every client, worker and replayer of this app converts payloads with: the encryption codec over
 * the default JSON conversion, and failures whose messages are encrypted too. A client without it
 * reads only ciphertext; one worker without it would write plain payloads, so each process takes it
 * from here.
 */
export function dataConverterFor(config: PayloadKeySettings): DataConverter & { payloadCodecs: [EncryptionCodec] } {
  const codec = loadPayloadCodec({ payloadKeys: config.PAYLOAD_KEYS, secretsKey: config.SECRETS_KEY, dataDir: config.DATA_DIR });
  return { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH };
}
