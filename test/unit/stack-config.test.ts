import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_SERVER_VERSION } from '../../src/stack/binaries';
import { DEFAULT_RETENTION, parseRetention } from '../../src/stack/namespace';
import { DYNAMIC_CONFIG, serverConfig } from '../../src/stack/temporal-server';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../src/temporal/dev-server';
import { connectionSecurity } from '../../src/temporal/connection';

const root = path.resolve(__dirname, '..', '..');
const compose = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');

describe('docker-compose.yml runs what npm run stack runs', () => {
  test('the same Temporal server and UI versions', () => {
    const v = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
    expect(compose).toContain(`image: temporalio/server:${v}\n`);
    expect(compose.match(/image: temporalio\/admin-tools:([\w.-]+)/g)).toEqual([
      `image: temporalio/admin-tools:${v}`,
      `image: temporalio/admin-tools:${v}`,
    ]);
    expect(compose).toContain(`image: temporalio/ui:${TEMPORAL_UI_SERVER_VERSION.replace(/^v/, '')}\n`);
    expect(compose).not.toContain('auto-setup:');
  });

  test('the same dynamic config and retention', () => {
    expect(readFileSync(path.join(root, 'docker', 'temporal', 'dynamicconfig.yaml'), 'utf8')).toBe(DYNAMIC_CONFIG);
    expect(compose).toContain(`TEMPORAL_RETENTION: \${TEMPORAL_RETENTION:-${DEFAULT_RETENTION}}`);
    expect(DYNAMIC_CONFIG).toMatch(/system\.enableEagerWorkflowStart:\n {2}- value: true/);
    expect(DYNAMIC_CONFIG).toMatch(/system\.enableActivityEagerExecution:\n {2}- value: true/);
    expect(DYNAMIC_CONFIG).toMatch(/history\.maxBufferedQueryCount:\n {2}- value: 100/);
    // The dev server's flags say the same, key by key (two copies of one config, kept in step here).
    for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG))
      expect(DYNAMIC_CONFIG).toContain(`${key}:\n  - value: ${value}\n`);
  });
});

test('TEMPORAL_RETENTION: days or hours, at least a day', () => {
  expect(parseRetention('7d')).toBe(7 * 86_400);
  expect(parseRetention('36h')).toBe(36 * 3_600);
  expect(() => parseRetention('12h')).toThrow(/minimum of one day/);
  expect(() => parseRetention('a week')).toThrow(/not a duration/);
});

test('the server config: PostgreSQL for history and visibility, services on loopback, the dynamic config file', () => {
  const yaml = serverConfig({
    postgres: '127.0.0.1:55432',
    ports: { frontend: 7233, frontendHttp: 7243, history: 7234, matching: 7235, worker: 7239, membershipBase: 6933 },
    dynamicConfigFile: '/data/dynamicconfig.yaml',
  });
  expect(yaml.match(/pluginName: postgres12/g)).toHaveLength(2);
  expect(yaml.match(/bindOnLocalHost: true/g)).toHaveLength(4);
  expect(yaml).toContain('filepath: /data/dynamicconfig.yaml');
  expect(yaml).toContain('rpcAddress: 127.0.0.1:7233');
});

describe('connectionSecurity (TEMPORAL_TLS_*, TEMPORAL_API_KEY)', () => {
  const pem = path.join(root, 'test', 'fixtures', 'insightly-seed-curl-body.txt'); // any readable file

  test('nothing set: plaintext', () => {
    expect(connectionSecurity({})).toEqual({});
  });
  test('an API key turns TLS on', () => {
    expect(connectionSecurity({ TEMPORAL_API_KEY: 'k' })).toEqual({ tls: true, apiKey: 'k' });
  });
  test('mTLS reads the certificate, the key and the CA', () => {
    const { tls } = connectionSecurity({ TEMPORAL_TLS_CERT: pem, TEMPORAL_TLS_KEY: pem, TEMPORAL_TLS_CA: pem });
    expect(tls).toMatchObject({
      clientCertPair: { crt: expect.any(Buffer), key: expect.any(Buffer) },
      serverRootCACertificate: expect.any(Buffer),
    });
  });
  test('a certificate without its key, or a file that is not there, is refused by name', () => {
    expect(() => connectionSecurity({ TEMPORAL_TLS_CERT: pem })).toThrow(/TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together/);
    expect(() => connectionSecurity({ TEMPORAL_TLS_CA: '/nonexistent.pem' })).toThrow(/TEMPORAL_TLS_CA: cannot read/);
  });
});
