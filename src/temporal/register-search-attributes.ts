import { isGrpcServiceError, type Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { allSearchAttributes, searchAttributeFlags } from './search-attributes';

const indexedTypes = {
  [SearchAttributeType.KEYWORD]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.INT]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  [SearchAttributeType.BOOL]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  [SearchAttributeType.KEYWORD_LIST]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
} as Record<string, temporal.api.enums.v1.IndexedValueType>;

const typeName = (t: temporal.api.enums.v1.IndexedValueType | null | undefined) =>
  temporal.api.enums.v1.IndexedValueType[t ?? 0]?.replace('INDEXED_VALUE_TYPE_', '') ?? String(t);

// gRPC status codes
const PERMISSION_DENIED = 7;
const UNIMPLEMENTED = 12;
const UNAUTHENTICATED = 16;

/** The operator API is refused to this caller (a namespace-scoped key, Temporal Cloud's API). */
const refused = (err: unknown) => isGrpcServiceError(err) && [PERMISSION_DENIED, UNIMPLEMENTED, UNAUTHENTICATED].includes(err.code ?? -1);

/** What a refused registration tells the operator: which attributes to create, and how. */
function refusedMessage(namespace: string, missing: string[], err: unknown): string {
  const flags = searchAttributeFlags.filter((f) => missing.includes(f.split('=')[0]!));
  return (
    `The search attributes ${missing.join(', ')} are missing in namespace ${namespace}, and this caller may not create them ` +
    `(${(err as Error).message}). Create them with an operator's rights, then start again: ` +
    flags.map((f) => `temporal operator search-attribute create --namespace ${namespace} --name ${f.replace('=', ' --type ')}`).join('; ') +
    ' (Temporal Cloud: tcld namespace search-attributes add, or the Cloud UI). See docs/production.md.'
  );
}

/** Registers the attributes through the operator API, for servers started without the CLI flags. */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(allSearchAttributes.map((k) => [k.name, indexedTypes[k.type]!])),
  });
}

/**
 * Makes sure the namespace has the app's search attributes, at start: the missing ones are created,
 * present ones are left alone (so a second start is one list call), and one that exists with another
 * type stops the start. Where the caller may not create them (or even list them), the start stops
 * with a message naming the attributes and the commands that create them.
 */
export async function ensureSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
): Promise<{ created: string[] }> {
  let existing: Record<string, temporal.api.enums.v1.IndexedValueType>;
  try {
    existing = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch (err) {
    if (!refused(err)) throw err;
    // Cannot list: the workflows' first start will tell. Assume the operator created them.
    return { created: [] };
  }
  const wrongType = allSearchAttributes.filter((k) => k.name in existing && existing[k.name] !== indexedTypes[k.type]);
  if (wrongType.length) {
    throw new Error(
      `Search attributes with another type in namespace ${namespace}: ${wrongType
        .map((k) => `${k.name} is ${typeName(existing[k.name])}, the app needs ${typeName(indexedTypes[k.type])}`)
        .join('; ')}`,
    );
  }
  const missing = allSearchAttributes.filter((k) => !(k.name in existing));
  if (!missing.length) return { created: [] };
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, indexedTypes[k.type]!])),
    });
  } catch (err) {
    if (refused(err))
      throw new Error(
        refusedMessage(
          namespace,
          missing.map((k) => k.name),
          err,
        ),
      );
    // Another process (the other worker) added them meanwhile: fine if they are all there now.
    const after = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
    if (missing.some((k) => after[k.name] !== indexedTypes[k.type])) throw err;
  }
  return { created: missing.map((k) => k.name) };
}
