import { connect } from 'node:net';
import express from 'express';
import { answerClientErrorsAsJson } from '../../src/api/errors';
import { listenOnFreePort } from '../fakes/http-server';

describe('requests Node refuses before Express', () => {
  let api: Awaited<ReturnType<typeof listenOnFreePort>>;
  beforeAll(async () => {
    const app = express();
    app.post('/x', (_req, res) => void res.json({ ok: true }));
    api = await listenOnFreePort(app);
    answerClientErrorsAsJson(api.server);
  });
  afterAll(() => api.close());

  test('headers over the size limit are a 431 with the JSON error shape', async () => {
    const res = await fetch(`${api.url}/x`, { method: 'POST', headers: { 'x-freshbooks-hmac-sha256': 'A'.repeat(20_000) } });
    expect(res.status).toBe(431);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ message: 'Request headers are too large', requestId: expect.any(String), errors: [] });
  });

  test('a malformed request line is a 400 with the JSON error shape', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(api.url).port), '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ message: 'Malformed HTTP request', errors: [] });
  });

  test('ordinary requests are untouched', async () => {
    const res = await fetch(`${api.url}/x`, { method: 'POST' });
    expect(await res.json()).toEqual({ ok: true });
  });
});
