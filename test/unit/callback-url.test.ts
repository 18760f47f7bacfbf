import { addressProblem, callbackUrlProblem, resolvedCallbackProblem } from '../../src/events/callback-url';

describe('callback URL checks', () => {
  test.each([
    ['169.254.169.254', /link-local/],
    ['169.254.0.1', /link-local/],
    ['fe80::1', /link-local/],
    ['fd00:ec2::254', /metadata/],
    ['::ffff:169.254.169.254', /link-local/],
  ])('%s is refused in every deployment', (address, problem) => {
    expect(addressProblem(address, false)).toMatch(problem);
    expect(addressProblem(address, true)).toMatch(problem);
  });

  test.each(['127.0.0.1', '10.0.0.8', '172.16.5.4', '192.168.1.1', '::1', 'fd12:3456::1', '100.64.0.1'])(
    '%s is allowed by default and refused when only public addresses are',
    (address) => {
      expect(addressProblem(address, false)).toBeUndefined();
      expect(addressProblem(address, true)).toMatch(/refused for callbacks here/);
    },
  );

  test.each(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'])('public %s is allowed', (address) => {
    expect(addressProblem(address, true)).toBeUndefined();
  });

  test('URLs: scheme, credentials, IP literals and loopback names', () => {
    expect(callbackUrlProblem('ftp://example.com/x', false)).toMatch(/http\(s\)/);
    expect(callbackUrlProblem('not a url', false)).toMatch(/http\(s\)/);
    expect(callbackUrlProblem('https://user:pw@example.com/x', false)).toMatch(/credentials/);
    expect(callbackUrlProblem('http://[fd00:ec2::254]:80/x', false)).toMatch(/metadata/);
    expect(callbackUrlProblem('http://localhost:3000/x', false)).toBeUndefined();
    expect(callbackUrlProblem('http://localhost:3000/x', true)).toMatch(/loopback/);
    expect(callbackUrlProblem('https://example.com/events', true)).toBeUndefined();
  });

  test('names are checked against what they resolve to', async () => {
    expect(await resolvedCallbackProblem('http://localhost:9/x', true)).toMatch(/localhost/);
    expect(await resolvedCallbackProblem('http://127.0.0.1:9/x', false)).toBeUndefined();
  });
});
