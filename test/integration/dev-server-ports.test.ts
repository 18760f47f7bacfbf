import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PortTakenError, startDevServer, startDevServerOnFreePorts, type DevServer } from '../../src/temporal/dev-server';
import { freePort } from '../fakes/http-server';
import { report } from './harness';
import { Connection } from '@temporalio/client';

async function connectsTo(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 5000 });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

jest.setTimeout(120_000);

/**
 * Ports are picked free and bound a moment later; on a shared machine another listener can take one in
 * between (CI saw the dev server exit with its UI port taken). That start is told apart and tried again.
 */
describe('the dev server on a port taken between the pick and the bind', () => {
  const dirs: string[] = [];
  const servers: DevServer[] = [];
  let squatter: Server | undefined;

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await new Promise<void>((resolve) => (squatter ? squatter.close(() => resolve()) : resolve()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const dataDir = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'element-events-ports-'));
    dirs.push(d);
    return d;
  };

  test('a taken UI port is a PortTakenError; a start on free ports still comes up', async () => {
    squatter = createServer();
    const taken = await new Promise<number>((resolve) =>
      squatter!.listen(0, '127.0.0.1', () => resolve((squatter!.address() as { port: number }).port)),
    );
    const failed = await startDevServer({ port: await freePort(), uiPort: taken, dataDir: dataDir(), namespace: 'default' }).then(
      (s) => {
        servers.push(s);
        return undefined;
      },
      (err: unknown) => err,
    );
    expect(failed).toBeInstanceOf(PortTakenError);
    expect((failed as Error).message).toContain(String(taken));

    const server = await startDevServerOnFreePorts({ dataDir: dataDir(), namespace: 'default' });
    servers.push(server);
    const answered = await connectsTo(server.address);
    report('dev server ports', { portTakenErrors: failed instanceof PortTakenError ? 1 : 0, startedOnFreePorts: answered ? 1 : 0 });
    expect(answered).toBe(true);
  });
});
