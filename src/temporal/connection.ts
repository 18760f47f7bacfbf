import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions, type TLSConfig, type WorkflowClientInterceptor } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';

/** How to reach a secured Temporal (the `TEMPORAL_TLS_*` and `TEMPORAL_API_KEY` settings). */
export interface TemporalAccess {
  TEMPORAL_TLS_CERT?: string;
  TEMPORAL_TLS_KEY?: string;
  TEMPORAL_TLS_CA?: string;
  TEMPORAL_API_KEY?: string;
}

function pem(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${variable}: cannot read ${file} (${(err as Error).message})`);
  }
}

/**
 * The TLS and API-key options both the client (API) and the worker's native connection take: mTLS
 * with a client certificate and key, a CA of one's own, and/or an API key (which implies TLS).
 * Nothing set: plaintext, as on the embedded dev server and the stack's loopback cluster.
 */
export function connectionSecurity(access: TemporalAccess = {}): { tls?: TLSConfig | true; apiKey?: string } {
  const { TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_CA: ca, TEMPORAL_API_KEY: apiKey } = access;
  if (!!cert !== !!key) throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both (mTLS) or neither');
  const tls: TLSConfig = {};
  if (cert && key) tls.clientCertPair = { crt: pem('TEMPORAL_TLS_CERT', cert), key: pem('TEMPORAL_TLS_KEY', key) };
  if (ca) tls.serverRootCACertificate = pem('TEMPORAL_TLS_CA', ca);
  const useTls = !!(cert || ca || apiKey);
  return {
    ...(useTls ? { tls: Object.keys(tls).length ? tls : true } : {}),
    ...(apiKey ? { apiKey } : {}),
  };
}

export async function connectClient(
  address: string,
  namespace: string,
  opts: Pick<ConnectionOptions, 'interceptors'> & {
    access?: TemporalAccess;
    /** Around the client's workflow calls (tracing: a span per start / signal / update, carried in headers). */
    workflowInterceptors?: WorkflowClientInterceptor[];
    /** The app's (`dataConverterFor`), so that what the client writes is encrypted and what it reads decodes. */
    dataConverter?: DataConverter;
  } = {},
): Promise<Client> {
  const { access, workflowInterceptors, dataConverter, ...rest } = opts;
  const connection = await Connection.connect({ address, ...connectionSecurity(access), ...rest });
  return new Client({
    connection,
    namespace,
    dataConverter,
    ...(workflowInterceptors?.length ? { interceptors: { workflow: workflowInterceptors } } : {}),
  });
}
