import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ensureSearchAttributes } from '../../src/temporal/register-search-attributes';

const {
  INDEXED_VALUE_TYPE_KEYWORD: KEYWORD,
  INDEXED_VALUE_TYPE_INT: INT,
  INDEXED_VALUE_TYPE_BOOL: BOOL,
  INDEXED_VALUE_TYPE_KEYWORD_LIST: KEYWORD_LIST,
} = temporal.api.enums.v1.IndexedValueType;
const all = {
  ElementKey: KEYWORD,
  ElementInstanceId: INT,
  ElementsAccount: KEYWORD,
  ElementsTokenHash: KEYWORD,
  EventsEnabled: BOOL,
  DeliveryStatus: KEYWORD,
  DeliveryEventIds: KEYWORD_LIST,
};

/** A gRPC error as the client raises it. */
const grpcError = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });

function operator(existing: Record<string, number>, add: (req: { searchAttributes: Record<string, number> }) => Promise<unknown>) {
  const calls: string[] = [];
  const connection = {
    operatorService: {
      listSearchAttributes: async () => {
        calls.push('list');
        return { customAttributes: existing };
      },
      addSearchAttributes: async (req: { searchAttributes: Record<string, number> }) => {
        calls.push(`add ${Object.keys(req.searchAttributes).join(',')}`);
        return add(req);
      },
    },
  } as unknown as Pick<Connection, 'operatorService'>;
  return { connection, calls };
}

test('all present: one list call, nothing created', async () => {
  const { connection, calls } = operator(all, async () => ({}));
  expect(await ensureSearchAttributes(connection, 'default')).toEqual({ created: [] });
  expect(calls).toEqual(['list']);
});

test('the missing ones are created, and only those', async () => {
  const { ElementKey, EventsEnabled, ...rest } = all;
  void ElementKey;
  void EventsEnabled;
  const { connection, calls } = operator(rest, async () => ({}));
  expect(await ensureSearchAttributes(connection, 'default')).toEqual({ created: ['ElementKey', 'EventsEnabled'] });
  expect(calls).toEqual(['list', 'add ElementKey,EventsEnabled']);
});

test('one with another type stops the start, naming both types', async () => {
  const { connection } = operator({ ...all, ElementInstanceId: KEYWORD }, async () => ({}));
  await expect(ensureSearchAttributes(connection, 'default')).rejects.toThrow(/ElementInstanceId is KEYWORD, the app needs INT/);
});

test('a caller without the rights is told which attributes to create, and how', async () => {
  const { DeliveryStatus, ...rest } = all;
  void DeliveryStatus;
  const { connection } = operator(rest, () => Promise.reject(grpcError(7, 'Request unauthorized.')));
  const failure = ensureSearchAttributes(connection, 'ns.acct');
  await expect(failure).rejects.toThrow(/DeliveryStatus are missing in namespace ns\.acct, and this caller may not create them/);
  await expect(failure).rejects.toThrow(
    /temporal operator search-attribute create --namespace ns\.acct --name DeliveryStatus --type Keyword/,
  );
});
