import {
  addressProblem,
  attemptErrorCategory,
  callbackUrlProblem,
  resolvedCallbackProblem,
  type LookupFn,
} from '../../src/events/callback-url';

const answers =
  (...addresses: string[]): LookupFn =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('callback URL checks', () => {
  test.each([
    ['169.254.169.254', /metadata/],
    ['169.254.170.2', /metadata/],
    ['100.100.100.200', /metadata/],
    ['168.63.129.16', /metadata/],
    ['192.0.0.192', /metadata/],
    ['fd00:ec2::254', /metadata/],
    ['::ffff:169.254.169.254', /metadata/],
    ['::a9fe:a9fe', /metadata/],
    ['64:ff9b::a9fe:a9fe', /metadata/],
    ['2002:a9fe:a9fe::', /metadata/],
    ['::ffff:100.100.100.200', /metadata/],
    ['169.254.0.1', /link-local/],
    ['fe80::1', /link-local/],
    ['::a9fe:1', /link-local/],
  ])('%s is refused in every deployment', (address, problem) => {
    expect(addressProblem(address, false)).toMatch(problem);
    expect(addressProblem(address, true)).toMatch(problem);
  });

  test.each([
    '127.0.0.1',
    '10.0.0.8',
    '172.16.5.4',
    '192.168.1.1',
    '::1',
    'fd12:3456::1',
    '100.64.0.1',
    '0.0.0.0',
    '::',
    '::ffff:127.0.0.1',
    '::7f00:1',
    '64:ff9b::7f00:1',
    '2002:7f00:1::',
    '::ffff:0:7f00:1',
  ])('%s is allowed by default and refused when only public addresses are', (address) => {
    expect(addressProblem(address, false)).toBeUndefined();
    expect(addressProblem(address, true)).toMatch(/refused for callbacks here/);
  });

  test('IPv4 inside IPv6 is named after what it carries', () => {
    expect(addressProblem('::7f00:1', true)).toBe('::7f00:1 is a loopback address, refused for callbacks here');
    expect(addressProblem('64:ff9b::a00:1', true)).toMatch(/private/);
    // Public IPv4 inside other IPv6 forms: still not plain public unicast.
    expect(addressProblem('::5db8:d822', true)).toMatch(/IPv4-compatible/);
    expect(addressProblem('64:ff9b::5db8:d822', true)).toMatch(/rfc6052/);
    expect(addressProblem('2002:5db8:d822::1', true)).toMatch(/6to4/);
    expect(addressProblem('2001:0:4136:e378:8000:63bf:3fff:fdd2', true)).toMatch(/teredo/);
  });

  test.each(['93.184.216.34', '93.184.215.14', '2606:4700::1111', '2606:2800:21f:cb07:6820:80da:af6b:8b2c', '::ffff:93.184.216.34'])(
    'public %s is allowed',
    (address) => {
      expect(addressProblem(address, true)).toBeUndefined();
      expect(addressProblem(address, false)).toBeUndefined();
    },
  );

  test('messages name the address given, nothing more', () => {
    expect(addressProblem('not-an-ip', false)).toBe('not-an-ip is not an IP address');
    expect(addressProblem('x'.repeat(500), false)!.length).toBeLessThan(100);
  });

  test('URLs: scheme, credentials, IP literals and loopback names', () => {
    expect(callbackUrlProblem('ftp://example.com/x', false)).toMatch(/http\(s\)/);
    expect(callbackUrlProblem('not a url', false)).toMatch(/http\(s\)/);
    expect(callbackUrlProblem('https://user:pw@example.com/x', false)).toMatch(/credentials/);
    expect(callbackUrlProblem('http://[fd00:ec2::254]:80/x', false)).toMatch(/metadata/);
    expect(callbackUrlProblem('http://localhost:3000/x', false)).toBeUndefined();
    expect(callbackUrlProblem('http://localhost:3000/x', true)).toMatch(/loopback/);
    expect(callbackUrlProblem('http://localhost.:3000/x', true)).toMatch(/loopback/);
    expect(callbackUrlProblem('http://api.localhost/x', true)).toMatch(/loopback/);
    expect(callbackUrlProblem('https://example.com/events', true)).toBeUndefined();
    expect(callbackUrlProblem('https://93.184.216.34/events', true)).toBeUndefined();
    expect(callbackUrlProblem('https://[2606:4700::1111]/events', true)).toBeUndefined();
  });

  test.each([
    'http://127.0.0.1/x',
    'http://2130706433/x', // 127.0.0.1, as the URL parser reads it
    'http://0x7f.1/x',
    'http://[::ffff:127.0.0.1]/x',
    'http://[::7f00:1]/x',
    'http://[::a9fe:a9fe]/x',
    'http://[64:ff9b::7f00:1]/x',
    'http://[2002:7f00:1::]/x',
    'http://100.100.100.200/x',
    'http://169.254.169.254/latest/meta-data',
    'http://168.63.129.16/x',
    'http://[fd00:ec2::254]/x',
  ])('%s is refused when only public addresses are', (url) => {
    expect(callbackUrlProblem(url, true)).toBeDefined();
  });

  test.each([
    'http://[::a9fe:a9fe]/x',
    'http://[::ffff:169.254.169.254]/x',
    'http://100.100.100.200/x',
    'http://169.254.169.254/latest/meta-data',
    'http://168.63.129.16/x',
    'http://[fd00:ec2::254]/x',
    'http://[fe80::1]/x',
  ])('%s is refused in every deployment', (url) => {
    expect(callbackUrlProblem(url, false)).toMatch(/metadata|link-local/);
  });

  test('names are checked against every address they resolve to', async () => {
    expect(await resolvedCallbackProblem('http://localhost:9/x', { publicOnly: true })).toMatch(/localhost/);
    expect(await resolvedCallbackProblem('http://127.0.0.1:9/x', { publicOnly: false })).toBeUndefined();

    const lookup = answers('93.184.216.34', '10.1.2.3');
    expect(await resolvedCallbackProblem('https://mixed.test/cb', { publicOnly: true, lookup })).toBe(
      'mixed.test resolves to a private address, refused for callbacks here',
    );
    expect(await resolvedCallbackProblem('https://mixed.test/cb', { publicOnly: false, lookup })).toBeUndefined();
    const meta = answers('2606:4700::1111', '::ffff:169.254.169.254');
    const problem = await resolvedCallbackProblem('https://meta.test/cb', { publicOnly: false, lookup: meta });
    expect(problem).toBe('meta.test resolves to a cloud metadata address');
    expect(problem).not.toMatch(/169/); // the resolved address stays out of the message
    expect(
      await resolvedCallbackProblem('https://ok.test/cb', { publicOnly: true, lookup: answers('93.184.216.34', '2606:4700::1111') }),
    ).toBeUndefined();
  });

  test('a name that does not resolve (yet) is no problem; the syntactic check still applies', async () => {
    const lookups: string[] = [];
    const failing: LookupFn = async (host) => {
      lookups.push(host);
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    };
    expect(await resolvedCallbackProblem('https://later.test/cb', { publicOnly: true, lookup: failing })).toBeUndefined();
    expect(await resolvedCallbackProblem('http://[::1]/cb', { publicOnly: true, lookup: failing })).toMatch(/loopback/);
    expect(await resolvedCallbackProblem('ftp://later.test/cb', { publicOnly: true, lookup: failing })).toMatch(/http\(s\)/);
    expect(lookups).toEqual(['later.test']);
  });

  test('attempt errors come down to a category, never an address', () => {
    const wrapped = (cause: object) => Object.assign(new TypeError('fetch failed'), { cause });
    const coded = (code: string, message = `${code} 10.0.0.5:4999`) => Object.assign(new Error(message), { code });
    expect(attemptErrorCategory(wrapped(coded('ECALLBACKADDRESS')))).toBe('address not allowed');
    expect(attemptErrorCategory(wrapped(coded('ECONNREFUSED')))).toBe('connection refused');
    expect(attemptErrorCategory(wrapped(new AggregateError([coded('ECONNREFUSED'), coded('ENETUNREACH')])))).toBe('connection refused');
    expect(attemptErrorCategory(wrapped(coded('ENOTFOUND')))).toBe('DNS lookup failed');
    expect(attemptErrorCategory(wrapped(coded('EAI_AGAIN')))).toBe('DNS lookup failed');
    expect(attemptErrorCategory(wrapped(coded('ECONNRESET')))).toBe('connection reset');
    expect(attemptErrorCategory(wrapped(coded('UND_ERR_SOCKET')))).toBe('connection reset');
    expect(attemptErrorCategory(wrapped(coded('UND_ERR_CONNECT_TIMEOUT')))).toBe('timeout');
    expect(attemptErrorCategory(wrapped(coded('UND_ERR_HEADERS_TIMEOUT')))).toBe('timeout');
    expect(attemptErrorCategory(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toBe('timeout');
    expect(attemptErrorCategory(new DOMException('This operation was aborted', 'AbortError'))).toBe('timeout');
    expect(attemptErrorCategory(wrapped(coded('ERR_TLS_CERT_ALTNAME_INVALID')))).toBe('TLS error');
    expect(attemptErrorCategory(wrapped(coded('DEPTH_ZERO_SELF_SIGNED_CERT')))).toBe('TLS error');
    expect(attemptErrorCategory(wrapped(coded('CERT_HAS_EXPIRED')))).toBe('TLS error');
    expect(attemptErrorCategory(wrapped(coded('ERR_SSL_WRONG_VERSION_NUMBER')))).toBe('TLS error');
    expect(attemptErrorCategory(wrapped(coded('EHOSTUNREACH')))).toBe('network error');
    expect(attemptErrorCategory('odd')).toBe('network error');
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    expect(attemptErrorCategory(loop)).toBe('network error');
  });
});
