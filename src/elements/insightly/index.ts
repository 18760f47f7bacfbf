import { ProviderError, ProviderQuotaError } from '../../errors';
import { templateProblems, expandTemplate } from '../../polling/template';
import { defineElement } from '../define';
import { example } from './example';
import type { ConfigurationKey, Element, FetchChangesArgs, PollResource } from '../element';
import { fetchWithRetry } from '../http';
import { hubObjects, translateHubUrl } from './where';

const MAX_TOP = 500; // Insightly's largest page
// Insightly's search shows a change some seconds after its DATE_UPDATED_UTC (the index lags, clocks
// differ): every poll reads the last minute again, and reports only what it had not reported yet.
const POLL_OVERLAP_SECONDS = 60;
/** Times a poll starts its read again after finding that the results shifted between two pages. */
const MAX_REREADS = 3;

/** The API's base URL setting: the pod of the account (na1, eu1, ...), or a fake in tests. */
const API_URL = 'INSIGHTLY_API_URL';

const configuration: ConfigurationKey[] = [
  {
    name: 'username',
    label: 'User name',
    type: 'string',
    required: false,
    secret: false,
    description: 'The Insightly user the API key belongs to (informational: Insightly authenticates with the key alone).',
    maxLength: 256,
  },
  {
    // Insightly authenticates with the API key alone; Cloud Elements calls it `password`.
    name: 'password',
    label: 'API key',
    type: 'password',
    required: true,
    secret: true,
    description: 'The Insightly API key (User Settings → API). Checked with one search call when the instance is created.',
    // Insightly keys are GUIDs; a huge one would only be refused by the provider as an oversized header.
    maxLength: 256,
  },
];

const idFields: Record<string, string> = {
  contacts: 'CONTACT_ID',
  accounts: 'ORGANISATION_ID',
  leads: 'LEAD_ID',
  opportunities: 'OPPORTUNITY_ID',
};

const defaultResources: Record<string, PollResource> = Object.fromEntries(
  Object.entries(idFields).map(([name, idField]) => [
    name,
    {
      url: `/hubs/crm/${name}?where=updated_after_utc='\${gmtDate:yyyy-MM-dd HH:mm:ss}'`,
      idField,
      pollOverlap: POLL_OVERLAP_SECONDS,
      datesConfiguration: {
        updatedDateField: 'DATE_UPDATED_UTC',
        updatedDateFormat: 'yyyy-MM-dd HH:mm:ss',
        updatedDateTimezone: 'GMT',
        createdDateField: 'DATE_CREATED_UTC',
        createdDateFormat: 'yyyy-MM-dd HH:mm:ss',
        createdDateTimezone: 'GMT',
      },
    },
  ]),
);

function authHeader(configuration: Record<string, unknown>): string {
  const apiKey = String(configuration.password ?? '');
  return `Basic ${Buffer.from(`${apiKey}:`).toString('base64')}`;
}

const quotaUsedUp = (response: Response) => response.status === 429 && response.headers.get('x-ratelimit-remaining')?.trim() === '0';

function describeFailure(response: Response, what: string): string {
  if (quotaUsedUp(response)) return `Insightly's daily request quota is used up (${what})`;
  return `Insightly answered ${response.status} ${response.statusText} to ${what}`;
}

/** What tells one record from another when checking that a page starts where the last one ended. */
function identity(record: unknown, idField: string | undefined): string {
  const id = idField && record && typeof record === 'object' ? (record as Record<string, unknown>)[idField] : undefined;
  return id === undefined || id === null ? JSON.stringify(record) : `id:${String(id)}`;
}

/**
 * Pages through Search with skip/top. Records deleted or re-dated while the poll pages through shift
 * the rest of the list, so a record could cross a page boundary unread. So consecutive pages overlap
 * by one record: each page must start with the record the previous one ended with. When it does not,
 * the list shifted, and the read starts again from the first page (records read twice are reported
 * once, by the poll); when it keeps shifting, the poll fails and the next one reads the window again.
 */
async function* fetchChanges(args: FetchChangesArgs): AsyncIterable<unknown[]> {
  const translation = translateHubUrl(args.resource.url);
  if (!translation.ok) throw new Error(translation.problems.join('; '));
  const { object, params } = translation.search;
  // Each page reads `step` records past the previous page's last one, which it reads again.
  const step = Math.min(args.resource.pageSize ?? MAX_TOP, MAX_TOP - 1);
  const top = step + 1;
  const base = args.urls[API_URL]!.replace(/\/+$/, '');
  let pages = 0;
  let records = 0;
  let rereads = 0;
  let lastOfPage: string | undefined;
  for (let skip = 0; ;) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) query.set(key, expandTemplate(value, args.sinceMs));
    query.set('top', String(top));
    query.set('skip', String(skip));
    const what = `GET /${object}/Search?${query}`;
    const response = await fetchWithRetry(
      `${base}/${object}/Search?${query}`,
      { headers: { authorization: authHeader(args.configuration), accept: 'application/json' } },
      { retries: 4, maxWaitMs: 30_000, signal: args.signal, onRetry: args.onRetry },
    );
    if (!response.ok) {
      await response.body?.cancel();
      // Retrying a used-up daily quota within the poll only spends requests: the next poll tries again.
      if (quotaUsedUp(response)) throw new ProviderQuotaError(describeFailure(response, what));
      throw new ProviderError(502, describeFailure(response, what));
    }
    const page = (await response.json()) as unknown;
    if (!Array.isArray(page)) throw new ProviderError(502, `Insightly answered ${what} with something other than a list`);
    pages++;
    if (lastOfPage !== undefined && (!page.length || identity(page[0], args.resource.idField) !== lastOfPage)) {
      // The list shifted since the last page: a record may have moved back past the boundary unread.
      if (++rereads > MAX_REREADS) {
        throw new ProviderError(
          502,
          `Insightly's search results kept shifting while being paged (${what}); the next poll reads the window again`,
        );
      }
      args.onReread?.({ rereads, skip });
      lastOfPage = undefined;
      skip = 0;
      continue;
    }
    const fresh = lastOfPage === undefined ? page : page.slice(1);
    records += fresh.length;
    args.progress?.({ pages, records });
    if (fresh.length) yield fresh;
    if (page.length < top) return;
    lastOfPage = identity(page[page.length - 1], args.resource.idField);
    skip += step;
  }
}

export const insightly: Element = defineElement({
  id: 1,
  key: 'insightly',
  name: 'Insightly',
  description: 'Insightly CRM: contacts, organisations, leads and opportunities, watched by polling its search API.',
  vendorTypes: ['polling'],
  configuration,
  example,
  urlSettings: { [API_URL]: 'https://api.na1.insightly.com/v3.1' },

  // Insightly has no tokens to keep: checking the API key with one search is the whole connection.
  async connect({ urls, configuration, signal }) {
    const base = urls[API_URL]!.replace(/\/+$/, '');
    let response: Response;
    try {
      response = await fetchWithRetry(
        `${base}/Contacts/Search?top=1`,
        { headers: { authorization: authHeader(configuration), accept: 'application/json' } },
        { retries: 2, maxWaitMs: 5_000, signal },
      );
    } catch (err) {
      throw new ProviderError(502, `Insightly could not be reached: ${(err as Error).message}`);
    }
    await response.body?.cancel();
    if (response.status === 401 || response.status === 403) {
      throw new ProviderError(400, 'Insightly refused the API key given as password');
    }
    // Another 4xx (but a rate limit) answers what the caller gave us, so it is the caller's to fix.
    if (response.status >= 400 && response.status < 500 && response.status !== 429) {
      throw new ProviderError(400, describeFailure(response, 'the credentials check'));
    }
    if (!response.ok) throw new ProviderError(502, describeFailure(response, 'the credentials check'));
    return {};
  },

  polling: {
    defaultResources,
    defaultPollOverlap: POLL_OVERLAP_SECONDS,
    resourceProblems(_name, resource) {
      const translation = translateHubUrl(resource.url);
      if (!translation.ok) return translation.problems;
      return Object.values(translation.search.params).flatMap((v) => templateProblems(v));
    },
    fetchChanges,
  },
});

export { hubObjects };
