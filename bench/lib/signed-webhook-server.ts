import { createServer, type Server } from 'node:http';
import { freshbooksSignatureValid } from '../../src/elements/freshbooks/signature';

/**
 * The receiving half both baselines share: reads a FreshBooks webhook, answers 401 to a bad
 * signature, and otherwise answers the status `accept` gives for its form fields.
 */
export function signedWebhookServer(verifier: string, accept: (fields: Record<string, string>) => Promise<number>): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const fields = [...new URLSearchParams(raw).entries()];
      if (!freshbooksSignatureValid(fields, raw, String(req.headers['x-freshbooks-hmac-sha256'] ?? ''), verifier)) {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(await accept(Object.fromEntries(fields))).end();
    });
  });
}
