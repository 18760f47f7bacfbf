import { createHash } from 'node:crypto';
import { accountIdOf, authenticate, type Account } from '../../src/api/auth';
import { HttpError } from '../../src/errors';

const alice: Account = { user: 'USER-SECRET-alice-7f3k', organization: 'ORG-SECRET-acme-91xq' };
const aliceOther: Account = { user: 'USER-SECRET-alice-7f3k', organization: 'ORG-SECRET-globex-22zz' };
const bob: Account = { user: 'USER-SECRET-bob-55mm', organization: 'ORG-SECRET-initech-00aa' };
const accounts = [alice, aliceOther, bob];

function status401(fn: () => unknown): HttpError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(HttpError);
  expect((thrown as HttpError).status).toBe(401);
  return thrown as HttpError;
}

describe('authenticate', () => {
  test('User <u>, Organization <o> identifies exactly that account', () => {
    expect(authenticate(`User ${alice.user}, Organization ${alice.organization}`, accounts)).toEqual({
      accountIds: [accountIdOf(alice)],
    });
    expect(authenticate(`User ${aliceOther.user}, Organization ${aliceOther.organization}`, accounts)).toEqual({
      accountIds: [accountIdOf(aliceOther)],
    });
  });

  test.each([
    (u: string, o: string) => `user ${u}, organization ${o}`,
    (u: string, o: string) => `USER ${u},ORGANIZATION ${o}`,
    (u: string, o: string) => `  User   ${u}  ,   Organization\t${o}  `,
  ])('keywords are case-insensitive and whitespace is tolerated (%#)', (write) => {
    const caller = authenticate(write(bob.user, bob.organization), accounts);
    expect(caller.accountIds).toEqual([accountIdOf(bob)]);
    expect(caller.tokenHash).toBeUndefined();
  });

  test('secrets are case-sensitive', () => {
    status401(() => authenticate(`User ${bob.user.toLowerCase()}, Organization ${bob.organization}`, accounts));
  });

  test.each([
    ['wrong user', `User nope, Organization ${alice.organization}`],
    ['wrong organization', `User ${alice.user}, Organization nope`],
    ['user of one account, organization of another', `User ${alice.user}, Organization ${bob.organization}`],
  ])('%s is a 401', (_what, header) => {
    status401(() => authenticate(header, accounts));
  });

  test.each([
    ['missing', undefined],
    ['empty', ''],
    ['a Bearer token', 'Bearer abc'],
    ['no organization', `User ${alice.user}`],
    ['no comma', `User ${alice.user} Organization ${alice.organization}`],
    ['unknown second part', `User ${alice.user}, Account ${alice.organization}`],
    ['extra part', `User ${alice.user}, Organization ${alice.organization}, Element t`],
  ])('a %s header is a 401', (_what, header) => {
    const err = status401(() => authenticate(header, accounts));
    expect(err.message).toMatch(/Authorization header/);
  });

  test('no configured accounts: every header is refused', () => {
    status401(() => authenticate(`User ${alice.user}, Organization ${alice.organization}`, []));
  });

  test('User <u>, Element <token>: tokenHash is sha256(token) hex and accountIds are every account with that user secret', () => {
    const token = 'instance-token-XYZ/+=';
    const caller = authenticate(`User ${alice.user}, Element ${token}`, accounts);
    expect(caller.tokenHash).toBe(createHash('sha256').update(token, 'utf8').digest('hex'));
    expect(caller.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(caller.accountIds.sort()).toEqual([accountIdOf(alice), accountIdOf(aliceOther)].sort());

    const bobs = authenticate(`user ${bob.user} , element ${token}`, accounts);
    expect(bobs.accountIds).toEqual([accountIdOf(bob)]);
  });

  test('Element auth with an unknown user secret is a 401', () => {
    status401(() => authenticate('User nobody, Element tok', accounts));
  });

  test('the error does not echo the secrets given', () => {
    const err = status401(() => authenticate(`User ${alice.user}, Organization WRONG-ORG-SECRET`, accounts));
    expect(err.message).not.toContain(alice.user);
    expect(err.message).not.toContain('WRONG-ORG-SECRET');
  });
});

describe('accountIdOf', () => {
  test('is stable for the same secrets', () => {
    expect(accountIdOf(alice)).toBe(accountIdOf({ ...alice }));
  });

  test('differs between accounts, also those sharing a user secret', () => {
    const ids = new Set(accounts.map(accountIdOf));
    expect(ids.size).toBe(3);
    // the separator keeps ("ab","c") and ("a","bc") apart
    expect(accountIdOf({ user: 'ab', organization: 'c' })).not.toBe(accountIdOf({ user: 'a', organization: 'bc' }));
  });

  test('does not contain the secrets', () => {
    for (const a of accounts) {
      const id = accountIdOf(a);
      expect(id).not.toContain(a.user);
      expect(id).not.toContain(a.organization);
      expect(id).toMatch(/^acct_[0-9a-f]+$/);
    }
  });
});
