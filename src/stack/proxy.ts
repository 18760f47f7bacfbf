import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small round-robin HTTP proxy in front of the API processes. A request whose backend refuses the
 * connection (a process that is down or restarting) goes to the next one: nothing was sent, so any
 * method may be tried again. A backend that fails mid-request answers 502 (the request may have
 * been handled; the client decides, as with any proxy).
 */
export class RoundRobinProxy {
  private next = 0;
  private server?: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  /** Requests each backend answered, by its port. */
  readonly served = new Map<number, number>();

  constructor(
    readonly backends: number[],
    private readonly log: (msg: string) => void = () => undefined,
  ) {}

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.server = http.createServer((req, res) => this.forward(req, res));
    this.server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => this.attempt(req, res, Buffer.concat(body), 0));
    req.on('error', () => res.destroy());
  }

  private attempt(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, tried: number): void {
    const port = this.backends[this.next++ % this.backends.length]!;
    const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'x-forwarded-for': forwardedFor, 'content-length': String(body.length) },
        agent: this.agent,
      },
      (answer) => {
        this.served.set(port, (this.served.get(port) ?? 0) + 1);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      const notSent = err.code === 'ECONNREFUSED';
      if (notSent && tried + 1 < this.backends.length) return this.attempt(req, res, body, tried + 1);
      this.log(`${req.method} ${req.url} via :${port}: ${err.message}`);
      if (!res.headersSent) res.writeHead(notSent ? 503 : 502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: notSent ? 'No API process is up' : 'The API process failed during the request' }));
    });
    upstream.end(body);
  }

  async close(): Promise<void> {
    if (!this.server) return;
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server.closeAllConnections();
    this.agent.destroy();
    await closed;
  }
}
