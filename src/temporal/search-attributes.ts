import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// Custom search attributes: registered on the embedded dev server at start, and created once per
// namespace in production (see docs/production.md). Operators filter on them in the Temporal UI.
export const ElementKey = defineSearchAttributeKey('ElementKey', SearchAttributeType.KEYWORD);
export const ElementInstanceId = defineSearchAttributeKey('ElementInstanceId', SearchAttributeType.INT);
export const ElementsAccount = defineSearchAttributeKey('ElementsAccount', SearchAttributeType.KEYWORD);
export const ElementsTokenHash = defineSearchAttributeKey('ElementsTokenHash', SearchAttributeType.KEYWORD);
export const EventsEnabled = defineSearchAttributeKey('EventsEnabled', SearchAttributeType.BOOL);
export const DeliveryStatus = defineSearchAttributeKey('DeliveryStatus', SearchAttributeType.KEYWORD);
/** The eventIds a delivery batch holds: how a notification delivered by its batch is found. */
export const DeliveryEventIds = defineSearchAttributeKey('DeliveryEventIds', SearchAttributeType.KEYWORD_LIST);

const cliTypeNames: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

export const allSearchAttributes = [
  ElementKey,
  ElementInstanceId,
  ElementsAccount,
  ElementsTokenHash,
  EventsEnabled,
  DeliveryStatus,
  DeliveryEventIds,
];

/** `NAME=Type` pairs, as `temporal server start-dev --search-attribute` takes them. */
export const searchAttributeFlags = allSearchAttributes.map((k) => `${k.name}=${cliTypeNames[k.type]}`);
