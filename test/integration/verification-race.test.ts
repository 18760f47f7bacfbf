import { call, createInstance, freshbooksSeedBody, report, startStack, until, waitForVerified, type Stack } from './harness';

jest.setTimeout(120_000);

const CALLBACKS = 18;

/**
 * A verification post carries no signature, so anyone who guesses a callback id can post one. Forged
 * verifiers are only candidates: FreshBooks refuses them when they are offered, they are dropped, and
 * the genuine one (early or late) still verifies the callback.
 */
describe('a forged verification racing the genuine one', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const storedFor = (id: number) => stack.freshbooks.callbacks().filter((c) => c.uri.endsWith(`/events/freshbooksv2/${id}`));
  const forge = async (id: number, callbackIds: number[]) =>
    Promise.all(
      callbackIds.map(async (callbackId) => {
        const res = await fetch(`${stack.api}/events/freshbooksv2/${id}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            name: 'callback.verify',
            object_id: String(callbackId),
            verifier: `forged-${callbackId}`,
          }).toString(),
        });
        await res.arrayBuffer();
        return res.status;
      }),
    );

  test('forged verifiers that came before the registration answer (early) or after it are refused and dropped', async () => {
    const { freshbooks } = stack;

    // Early: FreshBooks stores each callback and posts its verification at once, but its answer to
    // the registration comes 3 s later; the forger posts for the same ids in between.
    freshbooks.fail('register', { delayMs: 3000, times: CALLBACKS });
    const early = await createInstance(stack, freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: stack.sink.url }));
    await until(() => storedFor(early.id).length === CALLBACKS && freshbooks.verificationPosts.length >= CALLBACKS, 'stored callbacks');
    const earlyRefusedBefore = freshbooks.refusedVerifiers;
    const earlyForged = await forge(
      early.id,
      storedFor(early.id).map((c) => c.callbackid),
    );
    await waitForVerified(stack, early.id, CALLBACKS);
    const earlyRefused = freshbooks.refusedVerifiers - earlyRefusedBefore;

    // Late: registered and answered at once, the genuine post 10 s later; the forger posts first.
    freshbooks.verificationDelayMs = 10_000;
    const late = await createInstance(stack, freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: stack.sink.url }));
    await until(() => storedFor(late.id).length === CALLBACKS, 'registered callbacks');
    // Registered at FreshBooks is not yet known to the instance: wait until it awaits every verification.
    for (let i = 0; i < 100 && (await call(stack, 'GET', `/instances/${late.id}`)).body.status.callbacks.registered < CALLBACKS; i++)
      await new Promise((r) => setTimeout(r, 100));
    const lateRefusedBefore = freshbooks.refusedVerifiers;
    const lateForged = await forge(
      late.id,
      storedFor(late.id).map((c) => c.callbackid),
    );
    await waitForVerified(stack, late.id, CALLBACKS);
    const lateRefused = freshbooks.refusedVerifiers - lateRefusedBefore;
    freshbooks.verificationDelayMs = 20;

    const views = await Promise.all([early.id, late.id].map(async (id) => (await call(stack, 'GET', `/instances/${id}`)).body.status));
    const genuine = [early.id, late.id].every((id) => storedFor(id).every((c) => c.verified));
    report('forged verifications', {
      'early: forged posts accepted as candidates': earlyForged.filter((s) => s === 200).length,
      'refused by FreshBooks': earlyRefused,
      'late: forged posts accepted as candidates': lateForged.filter((s) => s === 200).length,
      'late refused by FreshBooks': lateRefused,
      'callbacks verified': views[0].callbacks.verified + views[1].callbacks.verified,
    });
    expect(earlyForged).toEqual(Array(CALLBACKS).fill(200));
    expect(lateForged).toEqual(Array(CALLBACKS).fill(200));
    // Each forged verifier offered is refused once and dropped; none is offered twice.
    expect(earlyRefused).toBeLessThanOrEqual(CALLBACKS);
    expect(lateRefused).toBe(CALLBACKS);
    expect(genuine).toBe(true);
    expect(views.map((v) => v.callbacks)).toEqual([
      { wanted: CALLBACKS, registered: CALLBACKS, verified: CALLBACKS },
      { wanted: CALLBACKS, registered: CALLBACKS, verified: CALLBACKS },
    ]);
    // Verified with the genuine verifiers: their webhooks pass the signature check.
    expect(await freshbooks.sendWebhook('invoice.create', 990_001)).toEqual([200, 200]);
    for (const id of [early.id, late.id]) expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });
});
