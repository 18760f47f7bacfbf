import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { EncryptionCodec, KEY_ID_METADATA, payloadKeyOf } from '../../src/temporal/payload-codec';
import { instanceWorkflowId } from '../../src/workflows/ids';
import { CallbackSink } from '../fakes/callback-sink';
import { call, createInstance, insightlySeedBody, notificationWorkflowId, report, sleep, startStack, until, type Stack } from './harness';
import { decodeHistory, payloadsIn, textOf } from './history-payloads';

jest.setTimeout(180_000);

const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const oldId = payloadKeyOf(oldKey).id;
const newId = payloadKeyOf(newKey).id;
const keyIdOf = (p: Payload) => Buffer.from(p.metadata?.[KEY_ID_METADATA] ?? []).toString();
describe('payload key rotation', () => {
  const sink = new CallbackSink();
  const stacks: Stack[] = [];
  // The notification that carried a contact, by its name: each stack's fake Insightly numbers its records from the same id.
  const noteOf = (name: string) => sink.accepted().find((r) => r.rawBody.includes(name));
  beforeAll(async () => {
    await sink.start();
  });
  afterAll(async () => {
    for (const s of stacks) await s.stop();
    await sink.stop();
  });

  test('a running instance started under the old key carries on after the worker and API restart with PAYLOAD_KEYS=new,old', async () => {
    // Both stacks work the same task queue: the second one's worker takes over the first one's workflows.
    const env = { TEMPORAL_TASK_QUEUE: `rotation-${randomUUID()}` };
    const before = await startStack({ env: { ...env, PAYLOAD_KEYS: oldKey.toString('base64') } });
    stacks.push(before);
    const created = await createInstance(before, insightlySeedBody({ callbackUrl: sink.url, refreshInterval: '0.02' }));
    await sleep(1100);
    before.insightly.create('Contacts', { FIRST_NAME: `Before-${created.id}` });
    await sink.waitFor(() => !!noteOf(`Before-${created.id}`), 30_000, 'a poll under the old key');
    await before.stop();
    stacks.pop();

    // The new key first (it encrypts), the old one kept (it decodes what is already written); hex this time.
    const after = await startStack({ env: { ...env, PAYLOAD_KEYS: `${newKey.toString('hex')},${oldKey.toString('base64')}` } });
    stacks.push(after);
    // The API reads the old memo and queries the workflow, which the new worker replays from its old-key history.
    const listed = await call(after, 'GET', '/instances');
    expect(listed.status).toBe(200);
    expect(listed.body.map((v: { id: number }) => v.id)).toContain(created.id);
    const view = await call(after, 'GET', `/instances/${created.id}`);
    expect(view.status).toBe(200);
    // It carries on: a poll after the restart is delivered.
    after.insightly.create('Contacts', { FIRST_NAME: `After-${created.id}` });
    await sink.waitFor(() => !!noteOf(`After-${created.id}`), 60_000, 'a poll under the new key');

    // The history as stored: its start under the old key, what the new worker wrote after it under the new one.
    const plain = new Client({ connection: after.client.connection, namespace: after.config.TEMPORAL_NAMESPACE });
    const keysInHistory = async () => {
      const raw = await plain.workflow.getHandle(instanceWorkflowId(created.id)).fetchHistory();
      const byKey = new Map<string, number>();
      for (const p of payloadsIn(raw)) if (keyIdOf(p)) byKey.set(keyIdOf(p), (byKey.get(keyIdOf(p)) ?? 0) + 1);
      return { raw, byKey };
    };
    // The poll that found the second contact may have been scheduled before the restart: wait for the new worker's own writes.
    await until(async () => (await keysInHistory()).byKey.has(newId), 'a payload under the new key in the instance history', 30_000);
    const { raw, byKey } = await keysInHistory();
    const started = raw.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!;
    expect(started.map(keyIdOf)).toEqual(started.map(() => oldId));
    expect([...byKey.keys()].sort()).toEqual([newId, oldId].sort());

    // The new key alone cannot read the old part (so the old key is what decodes it); both read all of it.
    const newOnly = new EncryptionCodec([payloadKeyOf(newKey)]);
    await expect(newOnly.decode(started)).rejects.toThrow(oldId);
    const codecs = after.client.options.loadedDataConverter.payloadCodecs;
    expect(textOf(await decodeHistory(raw, codecs))).toContain(sink.url);
    // The notifications' batches: the first written under the old key, the second under the new; both decode.
    const batches: Record<string, number> = {};
    for (const [name, keyId] of [
      ['Before', oldId],
      ['After', newId],
    ] as const) {
      const eventId = noteOf(`${name}-${created.id}`)!.body.message.eventId as string;
      const batch = await plain.workflow.getHandle(await notificationWorkflowId(after, eventId)).fetchHistory();
      const keys = payloadsIn(batch).map(keyIdOf).filter(Boolean);
      expect(new Set(keys)).toEqual(new Set([keyId]));
      batches[name] = keys.length;
      expect(textOf(await decodeHistory(batch, codecs))).toContain(`${name}-${created.id}`);
    }

    report('payload key rotation', {
      'instance payloads under the old key': byKey.get(oldId) ?? 0,
      'under the new key': byKey.get(newId) ?? 0,
      'old batch payloads (old key)': batches.Before ?? 0,
      'new batch payloads (new key)': batches.After ?? 0,
      'contacts delivered after the restart': sink.accepted().filter((r) => r.rawBody.includes(`After-${created.id}`)).length,
    });
    expect((await call(after, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });
});
