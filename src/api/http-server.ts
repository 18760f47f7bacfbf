import http from 'node:http';

export interface ServerLimits {
  /** Time to receive the whole request head; Node answers 408 and the socket is closed. */
  headersTimeoutMs: number;
  /** Time to receive the whole request (head + body); must be >= headersTimeoutMs (Node throws otherwise). */
  requestTimeoutMs: number;
  /** Idle time between requests on a kept-alive socket. */
  keepAliveTimeoutMs: number;
  maxRequestsPerSocket: number;
  /** Total open sockets; Node closes any accepted beyond this (and emits 'drop'). */
  maxConnections: number;
  /** Open sockets from one remote address, so one client cannot take the whole maxConnections. */
  maxConnectionsPerAddress: number;
  /** How often Node looks for expired header/request timeouts; they only fire on these ticks. */
  checkIntervalMs?: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1_000,
  maxConnections: 4_096,
  maxConnectionsPerAddress: 256,
  // Node's default of 30 s would let a 10 s header timeout hold a socket for up to 40 s.
  checkIntervalMs: 1_000,
};

/** Creates the server for an Express app (or any request listener) with these limits applied. */
export function createLimitedServer(app: http.RequestListener, limits: ServerLimits): http.Server {
  // connectionsCheckingInterval can only be given here, hence creating the server ourselves.
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs ?? DEFAULT_SERVER_LIMITS.checkIntervalMs,
    },
    app,
  );
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  server.maxConnections = limits.maxConnections;

  const perAddress = new Map<string, number>();
  server.on('connection', (socket) => {
    // http.Server sockets are allowHalfOpen, so a 'clientError' listener that only end()s the socket
    // (answerClientErrorsAsJson does, e.g. for the 408) leaves it open for as long as the client
    // never sends its FIN. Once we have finished writing there is nothing left to read for: close it,
    // as Node's own destroySoon() does after a `Connection: close` response.
    socket.once('finish', () => socket.destroy());

    const address = socket.remoteAddress;
    if (address === undefined) return void socket.destroy(); // already gone
    const open = (perAddress.get(address) ?? 0) + 1;
    if (open > limits.maxConnectionsPerAddress) return void socket.destroy();
    perAddress.set(address, open);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
  });
  return server;
}
