import { z } from 'zod';
import { ProviderError } from '../../errors';
import { templateProblems, expandTemplate } from '../../polling/template';
import type { Element, FetchChangesArgs, PollResource } from '../element';
import { fetchWithRetry } from '../http';
import { hubObjects, translateHubUrl } from './where';

const MAX_TOP = 500; // Insightly's largest page
// Insightly's search shows a change some seconds after its DATE_UPDATED_UTC (the index lags, clocks
// differ): every poll reads the last minute again, and reports only what it had not reported yet.
const POLL_OVERLAP_SECONDS = 60;

const configurationSchema = z.looseObject({
  username: z.string().optional(),
  // Insightly authenticates with the API key alone; Cloud Elements calls it `password`.
  password: z
    .string({ error: 'password (the Insightly API key) is required' })
    .min(1, 'password (the Insightly API key) is required')
    // Insightly keys are GUIDs; a huge one would only be refused by the provider as an oversized header.
    .max(256, 'password (the Insightly API key) must be at most 256 characters'),
});

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

function describeFailure(response: Response, what: string): string {
  const remaining = response.headers.get('x-ratelimit-remaining');
  if (response.status === 429 && remaining === '0') return `Insightly's daily request quota is used up (${what})`;
  return `Insightly answered ${response.status} ${response.statusText} to ${what}`;
}

async function* fetchChanges(args: FetchChangesArgs): AsyncIterable<unknown[]> {
  const translation = translateHubUrl(args.resource.url);
  if (!translation.ok) throw new Error(translation.problems.join('; '));
  const { object, params } = translation.search;
  const top = Math.min(args.resource.pageSize ?? MAX_TOP, MAX_TOP);
  const base = args.urls.insightly.replace(/\/+$/, '');
  let pages = 0;
  let records = 0;
  for (let skip = 0; ; skip += top) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) query.set(key, expandTemplate(value, args.sinceMs));
    query.set('top', String(top));
    query.set('skip', String(skip));
    const what = `GET /${object}/Search?${query}`;
    const response = await fetchWithRetry(
      `${base}/${object}/Search?${query}`,
      { headers: { authorization: authHeader(args.configuration), accept: 'application/json' } },
      { retries: 4, maxWaitMs: 30_000, signal: args.signal },
    );
    if (!response.ok) {
      await response.body?.cancel();
      throw new ProviderError(502, describeFailure(response, what));
    }
    const page = (await response.json()) as unknown;
    if (!Array.isArray(page)) throw new ProviderError(502, `Insightly answered ${what} with something other than a list`);
    pages++;
    records += page.length;
    args.progress?.({ pages, records });
    if (page.length) yield page;
    if (page.length < top) return;
  }
}

export const insightly: Element = {
  key: 'insightly',
  vendorTypes: ['polling'],
  configurationSchema,
  secretKeys: ['password'],
  credentialKeys: ['username', 'password'],

  // Insightly has no tokens to keep: checking the API key with one search is the whole connection.
  async connect({ urls, configuration, signal }) {
    const base = urls.insightly.replace(/\/+$/, '');
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
};

export { hubObjects };
