import { randomBytes, randomInt } from 'node:crypto';
import { Router, type Response } from 'express';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import type { Config } from '../config';
import { findElement, elements } from '../elements';
import { badRequest, forbidden, HttpError, notFound, tooMany } from '../errors';
import { resolvedCallbackProblem, type CallbackPolicy } from '../events/callback-url';
import {
  checkConfiguration,
  createInstanceSchema,
  parseEventsSettings,
  parseOrThrow,
  patchInstanceSchema,
  type CreateInstanceRequest,
} from '../instances/request';
import { secretKeysOf } from '../instances/secret-keys';
import { replacedKeys, sealedSettings } from '../instances/spec';
import type { Sealer } from '../secrets/sealer';
import type { Element, ProviderState } from '../elements/element';
import type { EventsSettings, InstanceSpec, InstanceSummary, InstanceView } from '../instances/types';
import { lastPollOf, publicView, temporalUiLink } from '../instances/view';
import type { Logger } from '../logger';
import { memoValue } from '../temporal/payloads';
import { ElementInstanceId, ElementKey, ElementsAccount, ElementsTokenHash, EventsEnabled } from '../temporal/search-attributes';
import {
  cleanupInputQuery,
  configureUpdate,
  deleteInstanceUpdate,
  getInstanceQuery,
  getSpecQuery,
  rotateTokenUpdate,
} from '../workflows/messages';
import { cleanupWorkflow } from '../workflows/cleanup';
import { instanceWorkflow } from '../workflows/instance';
import { cleanupWorkflowId, instanceIdOf, instanceWorkflowId } from '../workflows/ids';
import { BASE_PATH } from './base-path';
import { requireOrganization, sha256, type Caller } from './auth';
import { findOwnedEndedInstance, findOwnedInstance } from './ownership';
import { NEXT_PAGE_HEADER } from './paging';
import { retryAbortedUpdate } from '../temporal/updates';
import {
  IDEMPOTENCY_MEMO,
  idempotencyKeyOf,
  idempotencyRecord,
  KeyedQueue,
  keyedCreate,
  replayedCreate,
  type KeyedCreate,
} from './idempotency';

const tokenTimes = (provider: ProviderState) =>
  provider.tokens ? { issuedAtMs: provider.tokens.issuedAtMs, expiresAtMs: provider.tokens.expiresAtMs } : undefined;

export const webhookUri = (config: Config, elementKey: string, id: number) => `${config.PUBLIC_URL}${BASE_PATH}/events/${elementKey}/${id}`;

const PROVIDER_TIMEOUT_MS = 20_000;
/** Instances on one page of `GET /instances`; with `include=summary`, each costs a query and a count, so fewer. */
export const MAX_PAGE_SIZE = 200;
export const MAX_SUMMARY_PAGE_SIZE = 25;
const DEFAULT_PAGE_SIZE = 50;
/** How long the list waits for each instance's live figures before listing it without them. */
const SUMMARY_QUERY_TIMEOUT_MS = 3_000;

export const listQuery = z
  .strictObject({
    pageSize: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
    nextPage: z.string().max(4096).optional(),
    include: z.literal('summary', { error: 'the only value is "summary"' }).optional(),
  })
  .check((ctx) => {
    if (ctx.value.include && (ctx.value.pageSize ?? 0) > MAX_SUMMARY_PAGE_SIZE) {
      ctx.issues.push({
        code: 'custom',
        path: ['pageSize'],
        message: `must be at most ${MAX_SUMMARY_PAGE_SIZE} with include=summary`,
        input: ctx.value.pageSize,
      });
    }
  });

const newToken = () => randomBytes(32).toString('base64url');
/** How long a new instance keeps its quota place in memory: until Temporal's list counts it. */
const VISIBILITY_SETTLE_MS = 5_000;

/** A create's place in its account's quota: released when the create ends (kept a few seconds if it created). */
interface QuotaPlace {
  move(toWorkflowId: string): void;
  release(created: boolean): void;
}

interface Deps {
  client: Client;
  config: Config;
  log: Logger;
  sealer: Sealer;
  callbackPolicy: CallbackPolicy;
}

export function instancesRouter({ client, config, log, sealer, callbackPolicy }: Deps): Router {
  const router = Router();
  const caller = (req: { caller?: Caller }) => req.caller!;
  /** Per account: the workflow ids of creates under way and of instances created a moment ago (perhaps not yet in Temporal's list). */
  const quota = new Map<string, Set<string>>();
  /** Instances deleted in the last moments: Temporal's list may still show them running, and they no longer count. */
  const deletedRecently = new Set<string>();
  const keyedCreates = new KeyedQueue();

  const ownedInstance = (who: Caller, rawId: string) => findOwnedInstance(client, who, rawId);
  const connectElement = (element: Element, configuration: Record<string, unknown>, providerData?: Record<string, unknown>) =>
    element.connect({
      urls: config.providerUrls,
      configuration,
      providerData,
      signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    });

  /** Everything a configuration must pass before any provider call or workflow (creation and PATCH alike). */
  async function validateConfiguration(element: Element, configuration: Record<string, unknown>): Promise<EventsSettings> {
    checkConfiguration(element, configuration);
    parseOrThrow(element.configurationSchema, configuration, `configuration for ${element.key}`, ['configuration']);
    const events = parseEventsSettings(element, configuration, config.EVENTS_MIN_REFRESH_INTERVAL_MINUTES, callbackPolicy.publicOnly);
    const problem = events.callbackUrl ? await resolvedCallbackProblem(events.callbackUrl, callbackPolicy) : undefined;
    if (problem) {
      throw badRequest(`Invalid configuration: configuration.event.notification.callback.url ${problem}`, [
        { path: 'configuration.event.notification.callback.url', message: problem },
      ]);
    }
    return events;
  }

  /**
   * Holds a place for one more instance of the account, or answers 429. The place (the workflow id the
   * create will start) is taken before the count is asked, and the count leaves out every place held at
   * that moment, then adds them: a create is counted once, whether or not Temporal's list (which may
   * lag) shows it yet, and of two concurrent creates the later one counts the earlier. A new instance
   * stays held for a few seconds, until the list shows it. Per API process: replicas may overshoot by
   * what they create at once.
   */
  async function reserveInstance(accountId: string, workflowId: string): Promise<QuotaPlace> {
    const held = quota.get(accountId) ?? new Set<string>();
    quota.set(accountId, held);
    held.add(workflowId);
    let place = workflowId;
    const drop = (id: string) => {
      held.delete(id);
      if (!held.size) quota.delete(accountId);
    };
    const release = (created: boolean) => {
      if (created) setTimeout(() => drop(place), VISIBILITY_SETTLE_MS).unref();
      else drop(place);
    };
    try {
      const counted = [...held];
      const exclude = [...counted, ...deletedRecently].map((w) => `'${w}'`).join(', ');
      const { count } = await client.workflow.count(
        `WorkflowType = 'instanceWorkflow' AND ExecutionStatus = 'Running' AND ElementsAccount = '${accountId}'` +
          ` AND WorkflowId NOT IN (${exclude})`,
      );
      if (count + counted.length > config.MAX_INSTANCES_PER_ACCOUNT) {
        throw tooMany(
          `This account has ${count + counted.length - 1} instances; MAX_INSTANCES_PER_ACCOUNT allows ${config.MAX_INSTANCES_PER_ACCOUNT}. Delete one first.`,
        );
      }
    } catch (err) {
      release(false);
      throw err;
    }
    return {
      // A drawn id already taken (a deleted instance's) is drawn again: the place moves with it.
      move(to: string) {
        held.delete(place);
        held.add(to);
        place = to;
      },
      release,
    };
  }

  router.post('/instances', requireOrganization, async (req, res) => {
    if (!req.is('application/json')) throw new HttpError(415, 'Content-Type must be application/json');
    const key = idempotencyKeyOf(req);
    const body = parseOrThrow(createInstanceSchema, req.body, 'instance');
    const accountId = caller(req).accountIds[0]!;
    if (!key) return create(body, accountId, res);
    const keyed = keyedCreate(accountId, key, body);
    await keyedCreates.run(keyed.keyHash, async () => {
      // A replay answers before the quota and the provider: it creates nothing and uses no OAuth code.
      const first = await replayedCreate(client, sealer, accountId, keyed);
      if (first) return replay(res, first);
      await create(body, accountId, res, keyed);
    });
  });

  function replay(res: Response, first: InstanceView & { token: string }) {
    log.info({ instanceId: first.id }, 'instance create replayed for its Idempotency-Key');
    res.status(200).json(first);
  }

  /** The create itself; with a key, the instance gets the key's id and the record to replay it from. */
  async function create(body: CreateInstanceRequest, accountId: string, res: Response, keyed?: KeyedCreate) {
    const element = findElement(body.element.key);
    if (!element) {
      throw badRequest(`Unknown element "${body.element.key}"; known elements: ${[...elements.keys()].join(', ')}`, [
        { path: 'element.key', message: 'unknown element' },
      ]);
    }
    const configuration = body.configuration;
    const events = await validateConfiguration(element, configuration);
    // Before the provider is asked: a refused create must not use up a single-use OAuth code.
    const drawId = () => keyed?.id ?? randomInt(100_000, 2 ** 31 - 1);
    let id = drawId();
    const place = await reserveInstance(accountId, instanceWorkflowId(id));
    let created = false;
    try {
      let provider: ProviderState;
      try {
        provider = await connectElement(element, configuration, body.providerData);
      } catch (err) {
        // Another replica may have used the code for this very key a moment ago: its answer is ours.
        const first = keyed && err instanceof HttpError && err.status === 400 ? await recordAfterRefusal(accountId, keyed) : undefined;
        if (first) return replay(res, first);
        throw err;
      }
      const token = newToken();
      for (let attempt = 0; ; attempt++) {
        if (attempt) place.move(instanceWorkflowId((id = drawId())));
        const settings = sealedSettings(element, configuration, events, sealer, id);
        const spec: InstanceSpec = {
          id,
          accountId,
          tokenHash: sha256(token),
          name: body.name,
          tags: body.tags,
          elementKey: element.key,
          createdDate: new Date().toISOString(),
          ...settings,
          events: { ...settings.events, webhookUri: element.webhooks ? webhookUri(config, element.key, id) : undefined },
        };
        try {
          await client.workflow.start(instanceWorkflow, {
            taskQueue: config.TEMPORAL_TASK_QUEUE,
            workflowId: instanceWorkflowId(spec.id),
            args: [
              {
                spec,
                state: { provider: sealer.sealJson(provider, { instanceId: id, field: 'provider' }), tokenTimes: tokenTimes(provider) },
                maxHistoryEvents: config.INSTANCE_MAX_HISTORY_EVENTS,
                maxWebhookUpdates: config.INSTANCE_MAX_WEBHOOK_UPDATES,
                verificationResendSeconds: config.VERIFICATION_RESEND_SECONDS,
                providerRetrySeconds: config.PROVIDER_RETRY_SECONDS,
                webhookRepeatWindowSeconds: config.WEBHOOK_REPEAT_WINDOW_SECONDS,
                endpointHealth: {
                  openAfterSeconds: config.ENDPOINT_OPEN_AFTER_SECONDS,
                  probeSeconds: config.ENDPOINT_PROBE_SECONDS,
                  maxProbeSeconds: config.ENDPOINT_MAX_PROBE_SECONDS,
                  disableAfterHours: config.ENDPOINT_DISABLE_AFTER_HOURS,
                },
              },
            ],
            // Ids of deleted instances are never handed out again.
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            typedSearchAttributes: [
              { key: ElementKey, value: element.key },
              { key: ElementInstanceId, value: spec.id },
              { key: ElementsAccount, value: accountId },
              { key: ElementsTokenHash, value: spec.tokenHash },
              { key: EventsEnabled, value: events.enabled },
            ],
            memo: { instance: publicView(spec), ...(keyed ? { [IDEMPOTENCY_MEMO]: idempotencyRecord(keyed, token, sealer) } : {}) },
            staticSummary: `${element.key} instance "${spec.name}" (${events.enabled ? events.vendorType : 'events off'})`,
          });
        } catch (err) {
          if (err instanceof WorkflowExecutionAlreadyStartedError) {
            // A keyed id is not redrawn: the workflow there is the key's record (a concurrent duplicate won), or a 409.
            if (keyed) {
              const first = await replayedCreate(client, sealer, accountId, keyed);
              if (first) return replay(res, first);
            } else if (attempt < 3) continue;
          }
          throw err;
        }
        created = true;
        log.info({ instanceId: spec.id, element: element.key, events: events.enabled, vendorType: events.vendorType }, 'instance created');
        res.status(200).json({ ...publicView(spec), token });
        return;
      }
    } finally {
      place.release(created);
    }
  }

  /**
   * The provider refused the request (a FreshBooks code already used): if a concurrent duplicate on
   * another replica used it, its record appears once it starts the workflow, a moment after its code
   * exchange. A few looks over about a second; then the refusal stands.
   */
  async function recordAfterRefusal(accountId: string, keyed: KeyedCreate) {
    for (let look = 0; look < 5; look++) {
      const first = await replayedCreate(client, sealer, accountId, keyed);
      if (first) return first;
      await new Promise((r) => setTimeout(r, 250));
    }
    return undefined;
  }

  router.get('/instances', async (req, res) => {
    const who = caller(req);
    const q = parseOrThrow(listQuery, req.query, 'query');
    const accounts = who.accountIds.map((a) => `'${a}'`).join(', ');
    let query = `WorkflowType = 'instanceWorkflow' AND ExecutionStatus = 'Running' AND ElementsAccount IN (${accounts})`;
    if (who.tokenHash) query += ` AND ElementsTokenHash = '${who.tokenHash}'`;
    const pageSize = q.pageSize ?? (q.include ? MAX_SUMMARY_PAGE_SIZE : DEFAULT_PAGE_SIZE);
    const page = await client.workflowService
      .listWorkflowExecutions({
        namespace: config.TEMPORAL_NAMESPACE,
        query,
        pageSize,
        nextPageToken: q.nextPage ? Buffer.from(q.nextPage, 'base64url') : undefined,
      })
      .catch((err) => {
        if (q.nextPage && /token/i.test(String(err))) throw badRequest('nextPage is not a page token from this list');
        throw err;
      });
    // Memos are encrypted: each decoded through the client's codec.
    const memos = await Promise.all((page.executions ?? []).map((e) => memoValue(client, e.memo?.fields?.instance)));
    const views = (memos as (InstanceView | undefined)[])
      .filter((v): v is InstanceView => !!v)
      .sort((a, b) => b.createdDate.localeCompare(a.createdDate));
    if (page.nextPageToken?.length) res.setHeader(NEXT_PAGE_HEADER, Buffer.from(page.nextPageToken).toString('base64url'));
    res.json(q.include ? await Promise.all(views.map(async (v) => ({ ...v, summary: await summaryOf(v.id) }))) : views);
  });

  /**
   * The list's live figures for one instance: its last poll or webhook (asked of its workflow) and its
   * failed notifications (a visibility count). An instance that does not answer within 3 s (no worker
   * polls its task queue) is listed without its times rather than holding or failing the whole page.
   */
  async function summaryOf(id: number): Promise<InstanceSummary> {
    const [failed, view] = await Promise.all([
      client.workflow.count(`WorkflowType = 'deliveryWorkflow' AND ElementInstanceId = ${id} AND DeliveryStatus = 'failed'`),
      // A query waits for a worker: one that is down (or an instance whose task queue has none) must not hold the page.
      client
        .withDeadline(Date.now() + SUMMARY_QUERY_TIMEOUT_MS, () =>
          client.workflow.getHandle(instanceWorkflowId(id)).query(getInstanceQuery),
        )
        .catch((err: unknown) => {
          log.warn({ err, instanceId: id }, 'instance did not answer for the list summary');
          return undefined;
        }),
    ]);
    if (!view)
      return { failedDeliveries: failed.count, unavailable: `the instance did not answer within ${SUMMARY_QUERY_TIMEOUT_MS / 1000} s` };
    return {
      lastPollAt: lastPollOf(view.status?.resources),
      lastWebhookAt: view.status?.webhooks?.lastReceivedAt,
      failedDeliveries: failed.count,
    };
  }

  router.get('/instances/:id', async (req, res) => {
    const handle = await ownedInstance(caller(req), String(req.params.id));
    const view = await handle.query(getInstanceQuery);
    const ui = config.TEMPORAL_UI_URL;
    res.json(ui ? { ...view, temporalUiUrl: temporalUiLink(ui, config.TEMPORAL_NAMESPACE, handle.workflowId) } : view);
  });

  router.patch('/instances/:id', async (req, res) => {
    if (!req.is('application/json')) throw new HttpError(415, 'Content-Type must be application/json');
    const patch = parseOrThrow(patchInstanceSchema, req.body, 'instance change');
    const who = caller(req);
    const handle = await ownedInstance(who, String(req.params.id));
    const spec = await handle.query(getSpecQuery);
    const element = findElement(spec.elementKey)!;
    if (who.tokenHash) refuseTokenChanges(element, Object.keys(patch.configuration ?? {}));
    // null removes a key, as in JSON merge patch. Validation sees the secrets opened.
    const configuration = sealer.openKeys(spec.configuration, secretKeysOf(element), spec.id);
    for (const [key, value] of Object.entries(patch.configuration ?? {})) {
      if (value === null) delete configuration[key];
      else configuration[key] = value;
    }
    const events = await validateConfiguration(element, configuration);
    if (patch.configuration && !element.webhooks) {
      // Changed credentials are checked now, as at creation, not by the next poll.
      await connectElement(element, configuration);
    }
    const settings = sealedSettings(element, configuration, events, sealer, spec.id);
    const graceMs = config.SIGNING_KEY_GRACE_HOURS * 3_600_000;
    const next: InstanceSpec = {
      ...spec,
      name: patch.name ?? spec.name,
      tags: patch.tags ?? spec.tags,
      ...settings,
      events: {
        ...settings.events,
        webhookUri: spec.events.webhookUri,
        previousKeys: replacedKeys(spec.events, events, sealer, spec.id, Date.now(), graceMs),
      },
    };
    const view = await retryAbortedUpdate(() => handle.executeUpdate(configureUpdate, { args: [next] }));
    log.info({ instanceId: spec.id, changed: Object.keys(patch) }, 'instance changed');
    res.json(view);
  });

  // Deleting an instance, like creating one, takes the platform secrets.
  router.delete('/instances/:id', requireOrganization, async (req, res) => {
    const rawId = String(req.params.id);
    const handle = await ownedInstance(caller(req), rawId).catch(async (err: unknown) => {
      if (!(err instanceof HttpError && err.status === 404)) throw err;
      // Not running: perhaps terminated by an operator, its callbacks still registered.
      await removeEndedInstance(await findOwnedEndedInstance(client, caller(req), rawId), res);
      return undefined;
    });
    if (!handle) return;
    await retryAbortedUpdate(() => handle.executeUpdate(deleteInstanceUpdate));
    await handle.result();
    // Deleted: it no longer counts against the quota, even while Temporal's list still shows it running.
    for (const held of quota.values()) held.delete(handle.workflowId);
    // At most 200 at a time (they go into the count's query); past that, a create may see a 429 for a few seconds.
    if (deletedRecently.size < 200) {
      deletedRecently.add(handle.workflowId);
      setTimeout(() => deletedRecently.delete(handle.workflowId), VISIBILITY_SETTLE_MS).unref();
    }
    log.info({ instanceId: Number(req.params.id) }, 'instance deleted');
    res.json({ id: Number(req.params.id), deleted: true });
  });

  /**
   * Deletes an instance whose workflow ended without being deleted: a cleanup workflow takes its
   * provider callbacks down with the state the instance last had. Once done, the instance is gone (404).
   */
  async function removeEndedInstance(handle: WorkflowHandle<typeof instanceWorkflow>, res: Response): Promise<void> {
    const id = instanceIdOf(handle.workflowId);
    const input = await handle.query(cleanupInputQuery);
    let removed = 0;
    if (input) {
      try {
        ({ removed } = await client.workflow.execute(cleanupWorkflow, {
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          workflowId: cleanupWorkflowId(id),
          args: [input],
          // Done once; a failed cleanup may be asked again.
          workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
          staticSummary: `remove the provider callbacks of ended instance ${id}`,
        }));
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) throw notFound(`Instance ${id} not found`);
        throw err;
      }
    }
    log.info({ instanceId: id, callbacksRemoved: removed }, 'ended instance deleted');
    res.json({ id, deleted: true });
  }

  /** A new Element token; the old one stops working when this answers. */
  router.post('/instances/:id/token', requireOrganization, async (req, res) => {
    const handle = await ownedInstance(caller(req), String(req.params.id));
    const token = newToken();
    await retryAbortedUpdate(() => handle.executeUpdate(rotateTokenUpdate, { args: [{ tokenHash: sha256(token) }] }));
    log.info({ instanceId: Number(req.params.id) }, 'instance token rotated');
    res.json({ id: Number(req.params.id), token });
  });

  return router;
}

/**
 * An Element token manages its instance's events, but where they go and how they are signed, and the
 * provider credentials, take the platform secrets: a leaked token must not redirect the events.
 */
function refuseTokenChanges(element: Element, keys: string[]): void {
  const guarded = new Set(['event.notification.callback.url', ...secretKeysOf(element), ...element.credentialKeys]);
  const refused = keys.filter((k) => guarded.has(k));
  if (refused.length) {
    throw forbidden(`An Element token may not change ${refused.join(', ')}: use "User <secret>, Organization <secret>"`);
  }
}
