import net from 'node:net';
import type { StackPorts } from '../../src/stack/stack';

function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Ports for a test stack: one random block of 20 consecutive free ports (Temporal's membership
 * ports must be consecutive), away from the documented ones a developer's `npm run stack` uses, and
 * under 32768: Temporal keeps membership ports in a PostgreSQL smallint (and Linux hands out
 * ephemeral ports from 32768 up).
 */
export async function stackPorts(): Promise<StackPorts> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20_000 + Math.floor(Math.random() * 600) * 20;
    const all = Array.from({ length: 20 }, (_, i) => base + i);
    if (!(await Promise.all(all.map(free))).every(Boolean)) continue;
    return {
      postgres: base,
      temporal: {
        frontend: base + 1,
        frontendHttp: base + 2,
        history: base + 3,
        matching: base + 4,
        worker: base + 5,
        membershipBase: base + 6,
      },
      ui: base + 10,
      proxy: base + 11,
      apiBase: base + 12,
    };
  }
  throw new Error('no block of 20 free ports found');
}
