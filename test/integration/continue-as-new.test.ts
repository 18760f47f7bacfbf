import { call, createInstance, insightlySeedBody, sleep, startStack, type Stack } from './harness';

jest.setTimeout(120_000);

describe('continue-as-new', () => {
  let stack: Stack;
  beforeAll(async () => {
    // About three poll cycles of four resources fit in 60 history events.
    stack = await startStack({ env: { INSTANCE_MAX_HISTORY_EVENTS: '60' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('keeps watermarks and loses no event across runs', async () => {
    const { insightly, sink, client } = stack;
    const { id } = await createInstance(stack, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: '0.02' }));
    const handle = client.workflow.getHandle(`instance-${id}`);
    const firstRunId = (await handle.describe()).runId;
    await sleep(1100);

    const expected = new Set<string>();
    const runIds = new Set<string>([firstRunId]);
    // Changes keep arriving while the workflow rolls over several times.
    for (let i = 0; i < 12; i++) {
      expected.add(`contacts:${insightly.create('Contacts', { N: i }).CONTACT_ID}`);
      expected.add(`leads:${insightly.create('Leads', { N: i }).LEAD_ID}`);
      await sleep(700);
      runIds.add((await handle.describe()).runId);
    }
    const key = (e: { objectType: string; objectId: string }) => `${e.objectType}:${e.objectId}`;
    const ours = () => sink.acceptedEvents().filter((e) => expected.has(key(e)));
    await sink.waitFor(() => ours().length >= expected.size, 30_000, 'all events');
    await sleep(3000);
    runIds.add((await handle.describe()).runId);

    expect(runIds.size).toBeGreaterThanOrEqual(3);
    const { executions } = await client.workflowService.listWorkflowExecutions({
      namespace: 'default',
      query: `WorkflowId = 'instance-${id}' AND ExecutionStatus = 'ContinuedAsNew'`,
    });
    expect(executions.length).toBeGreaterThanOrEqual(2);

    const delivered = ours().map(key);
    expect(delivered).toHaveLength(expected.size); // each exactly once
    expect(new Set(delivered)).toEqual(expected);

    // The state went along: poll count and watermarks, and the instance is still listed and readable.
    const view = await call(stack, 'GET', `/instances/${id}`);
    expect(view.status).toBe(200);
    expect(view.body.status.polls).toBeGreaterThan(8);
    expect(Date.parse(view.body.status.resources.contacts.watermark)).toBeGreaterThan(Date.parse(view.body.createdDate));
    const list = await call(stack, 'GET', '/instances');
    expect(list.body.map((i: { id: number }) => i.id)).toContain(id);
    expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });
});
