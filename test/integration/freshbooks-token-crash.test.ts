import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { call, createInstance, freshbooksSeedBody, report, startStack, until, waitForVerified, type Stack } from './harness';
import { instanceWorkflowId } from '../../src/workflows/ids';

// The killed worker's activity is retried when its start-to-close timeout (2 minutes) expires.
jest.setTimeout(300_000);

const root = path.resolve(__dirname, '..', '..');
const CALLBACKS = 18;

describe('token refresh when the worker dies between FreshBooks’ answer and the signal', () => {
  let stack: Stack;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    // A ten-second first access token: the first refresh comes eight seconds after the instance is made.
    stack = await startStack({ worker: 'none', freshbooksTokenLifetimeSeconds: 10 });
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stack?.stop();
  });

  test('the retry hands over the tokens from its heartbeat: the instance keeps working and no refresh token is used twice', async () => {
    const { freshbooks, sink, client } = stack;
    const doomed = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', path.join(root, 'test', 'fakes', 'hang-tokens-signal.mjs'), path.join(root, 'src', 'worker.ts')],
      { cwd: root, env: { ...process.env, ...stack.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    doomed.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-3000)));
    doomed.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-3000)));
    children.push(doomed);
    const created = await createInstance(stack, freshbooksSeedBody({ code: freshbooks.issueCode(), callbackUrl: sink.url }));
    // The refreshed tokens last three minutes: still valid when the retry hands them over (2 minutes
    // on), and refreshed in turn (at four fifths of their life) with the refresh token handed over.
    freshbooks.accessTokenLifetimeSeconds = 180;
    const callbacks = () => freshbooks.callbacks().filter((c) => c.uri.endsWith(`/events/freshbooksv2/${created.id}`));

    // The refresh (the worker's start-up may take longer than the token lasts, so it may come before
    // the callbacks): FreshBooks answers, the activity records the new tokens in its heartbeat, then its
    // signal hangs. Once the heartbeat is in Temporal, the worker is killed.
    const handle = client.workflow.getHandle(instanceWorkflowId(created.id));
    const refreshing = async () => (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'refreshTokens');
    await until(
      async () => !!(await refreshing())?.heartbeatDetails?.payloads?.length,
      'the refresh heartbeat with the tokens',
      60_000,
      async () =>
        `worker exit ${doomed.exitCode}/${doomed.signalCode} ${out}, callbacks ${callbacks().length}, history ${(await handle.describe()).historyLength}, refreshes ${freshbooks.refreshes}, token requests ${JSON.stringify(freshbooks.tokenRequests)}, pending ${JSON.stringify((await handle.describe()).raw.pendingActivities)}`,
    );
    const refreshesBeforeKill = freshbooks.refreshes;
    doomed.kill('SIGKILL');
    const [, signal] = await once(doomed, 'exit');
    const worker = await stack.spawnWorker();
    children.push(worker);

    // Attempt 2 (after the 2-minute timeout) signals the tokens from the heartbeat without calling
    // FreshBooks; the instance works with them, then refreshes with the refresh token it was handed.
    await until(async () => !(await refreshing()), 'the refresh activity to finish', 200_000);
    const refreshesByRetry = freshbooks.refreshes - refreshesBeforeKill;
    await until(() => callbacks().filter((c) => c.verified).length === CALLBACKS, 'verified callbacks');
    await waitForVerified(stack, created.id, CALLBACKS);
    await until(() => freshbooks.refreshes > refreshesBeforeKill, 'the next refresh, with the handed-over refresh token', 120_000);
    // And webhooks are delivered.
    const sent = await freshbooks.sendWebhook('invoice.create', 9801);
    await sink.waitFor(() => sink.acceptedEvents().some((e) => e.objectId === '9801'), 30_000, 'a webhook after the crash');
    const history = await handle.fetchHistory();
    const attempts = (history.events ?? [])
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => {
        const scheduled = (history.events ?? []).find(
          (s) => Number(s.eventId) === Number(e.activityTaskStartedEventAttributes!.scheduledEventId),
        );
        return {
          type: scheduled?.activityTaskScheduledEventAttributes?.activityType?.name,
          attempt: e.activityTaskStartedEventAttributes!.attempt,
        };
      })
      .filter((a) => a.type === 'refreshTokens');
    const tokensSignals = (history.events ?? []).filter(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'tokensIssued',
    ).length;

    // Calls with the newest token work: turning events off removes the callbacks at FreshBooks.
    const off = await call(stack, 'PATCH', `/instances/${created.id}`, {
      json: { configuration: { 'event.notification.enabled': false } },
    });
    const view = await call(stack, 'GET', `/instances/${created.id}`);
    report('worker killed between token answer and signal', {
      'refreshes before kill': refreshesBeforeKill,
      'refreshes by the retry': refreshesByRetry,
      'first refresh attempt completed': attempts[0]?.attempt ?? 0,
      'tokensIssued signals': tokensSignals,
      'refresh-token reuses': freshbooks.refreshTokenReuses,
      'webhook delivered': sink.acceptedEvents().filter((e) => e.objectId === '9801').length,
      'callbacks after events off': callbacks().length,
      '401s': freshbooks.requests.filter((r) => r.status === 401).length,
    });
    expect(signal).toBe('SIGKILL');
    expect(refreshesBeforeKill).toBe(1);
    expect(refreshesByRetry).toBe(0);
    // The first refresh activity completed on its second attempt (history records only that one's start).
    expect(attempts[0]?.attempt).toBe(2);
    expect(tokensSignals).toBeGreaterThanOrEqual(2);
    expect(freshbooks.refreshTokenReuses).toBe(0);
    expect(sent).toEqual([200]);
    expect(sink.acceptedEvents().filter((e) => e.objectId === '9801')).toHaveLength(1);
    expect(off.status).toBe(200);
    expect(callbacks()).toHaveLength(0);
    expect(freshbooks.requests.filter((r) => r.status === 401)).toHaveLength(0);
    expect(view.body.status.lastError).toBeUndefined();
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });
});
