import { Client, Connection, type ConnectionOptions } from '@temporalio/client';

export async function connectClient(
  address: string,
  namespace: string,
  opts: Pick<ConnectionOptions, 'interceptors'> = {},
): Promise<Client> {
  const connection = await Connection.connect({ address, ...opts });
  return new Client({ connection, namespace });
}
