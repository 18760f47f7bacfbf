import { randomBytes, randomInt } from 'node:crypto';
import { Router } from 'express';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { findElement, elements } from '../elements';
import { badRequest, HttpError, notFound } from '../errors';
import {
  createInstanceSchema,
  parseEventsSettings,
  parseOrThrow,
  patchInstanceSchema,
  redactConfiguration,
  secretKeysOf,
} from '../instances/request';
import type { Sealer } from '../secrets/sealer';
import type { Element, ProviderState } from '../elements/element';
import type { InstanceSpec, InstanceView } from '../instances/types';
import { publicView } from '../instances/view';
import type { Logger } from '../logger';
import {
  ElementInstanceId,
  ElementKey,
  ElementsAccount,
  ElementsTokenHash,
  EventsEnabled,
} from '../temporal/search-attributes';
import { configureUpdate, deleteInstanceUpdate, getInstanceQuery, getSpecQuery } from '../workflows/messages';
import type { instanceWorkflow } from '../workflows/instance';
import { BASE_PATH } from './base-path';
import { requireOrganization, sha256, type Caller } from './auth';
import { findOwnedInstance, instanceWorkflowId } from './ownership';
import { retryAbortedUpdate } from '../temporal/updates';


const tokenTimes = (provider: ProviderState) =>
  provider.tokens ? { issuedAtMs: provider.tokens.issuedAtMs, expiresAtMs: provider.tokens.expiresAtMs } : undefined;

export const webhookUri = (config: Config, elementKey: string, id: number) =>
  `${config.PUBLIC_URL}${BASE_PATH}/events/${elementKey}/${id}`;

const PROVIDER_TIMEOUT_MS = 20_000;

interface Deps {
  client: Client;
  config: Config;
  log: Logger;
  sealer: Sealer;
}

export function instancesRouter({ client, config, log, sealer }: Deps): Router {
  const router = Router();
  const caller = (req: { caller?: Caller }) => req.caller!;

  const ownedInstance = (who: Caller, rawId: string) => findOwnedInstance(client, who, rawId);
  const connectElement = (element: Element, configuration: Record<string, unknown>, providerData?: Record<string, unknown>) =>
    element.connect({
      urls: { insightly: config.INSIGHTLY_API_URL, freshbooks: config.FRESHBOOKS_API_URL },
      configuration,
      providerData,
      signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    });

  router.post('/instances', requireOrganization, async (req, res) => {
    if (!req.is('application/json')) throw new HttpError(415, 'Content-Type must be application/json');
    const body = parseOrThrow(createInstanceSchema, req.body, 'instance');
    const element = findElement(body.element.key);
    if (!element) {
      throw badRequest(`Unknown element "${body.element.key}"; known elements: ${[...elements.keys()].join(', ')}`, [
        { path: 'element.key', message: 'unknown element' },
      ]);
    }
    const configuration = body.configuration;
    parseOrThrow(element.configurationSchema, configuration, `configuration for ${element.key}`, ['configuration']);
    const events = parseEventsSettings(element, configuration, config.EVENTS_MIN_REFRESH_INTERVAL_MINUTES, config.CALLBACK_URLS_PUBLIC_ONLY);

    const provider = await connectElement(element, configuration, body.providerData);

    const token = randomBytes(32).toString('base64url');
    const accountId = caller(req).accountIds[0]!;
    for (let attempt = 0; ; attempt++) {
      const id = randomInt(100_000, 2 ** 31 - 1);
      const spec: InstanceSpec = {
        id,
        accountId,
        tokenHash: sha256(token),
        name: body.name,
        tags: body.tags,
        elementKey: element.key,
        createdDate: new Date().toISOString(),
        configuration: sealer.sealKeys(configuration, secretKeysOf(element)),
        publicConfiguration: redactConfiguration(element, configuration),
        events: {
          ...events,
          signatureKey: events.signatureKey && sealer.seal(events.signatureKey),
          webhookSecret: events.webhookSecret && sealer.seal(events.webhookSecret),
          webhookUri: element.webhooks ? webhookUri(config, element.key, id) : undefined,
        },
      };
      try {
        await client.workflow.start<typeof instanceWorkflow>('instanceWorkflow', {
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          workflowId: instanceWorkflowId(spec.id),
          args: [
            {
              spec,
              state: { provider: sealer.sealJson(provider), tokenTimes: tokenTimes(provider) },
              maxHistoryEvents: config.INSTANCE_MAX_HISTORY_EVENTS,
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
          memo: { instance: publicView(spec) },
          staticSummary: `${element.key} instance "${spec.name}" (${events.enabled ? events.vendorType : 'events off'})`,
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError && attempt < 3) continue;
        throw err;
      }
      log.info({ instanceId: spec.id, element: element.key, events: events.enabled, vendorType: events.vendorType }, 'instance created');
      res.status(200).json({ ...publicView(spec), token });
      return;
    }
  });

  router.get('/instances', async (req, res) => {
    const who = caller(req);
    const accounts = who.accountIds.map((a) => `'${a}'`).join(', ');
    let query = `WorkflowType = 'instanceWorkflow' AND ExecutionStatus = 'Running' AND ElementsAccount IN (${accounts})`;
    if (who.tokenHash) query += ` AND ElementsTokenHash = '${who.tokenHash}'`;
    const views: InstanceView[] = [];
    for await (const execution of client.workflow.list({ query })) {
      const view = execution.memo?.instance as InstanceView | undefined;
      if (view) views.push(view);
    }
    views.sort((a, b) => b.createdDate.localeCompare(a.createdDate));
    res.json(views);
  });

  router.get('/instances/:id', async (req, res) => {
    const handle = await ownedInstance(caller(req), req.params.id!);
    res.json(await handle.query(getInstanceQuery));
  });

  router.patch('/instances/:id', async (req, res) => {
    if (!req.is('application/json')) throw new HttpError(415, 'Content-Type must be application/json');
    const patch = parseOrThrow(patchInstanceSchema, req.body, 'instance change');
    const handle = await ownedInstance(caller(req), req.params.id!);
    const spec = await handle.query(getSpecQuery);
    const element = findElement(spec.elementKey)!;
    // null removes a key, as in JSON merge patch. Validation sees the secrets opened.
    const configuration = sealer.openKeys(spec.configuration, secretKeysOf(element));
    for (const [key, value] of Object.entries(patch.configuration ?? {})) {
      if (value === null) delete configuration[key];
      else configuration[key] = value;
    }
    parseOrThrow(element.configurationSchema, configuration, `configuration for ${element.key}`, ['configuration']);
    const events = parseEventsSettings(element, configuration, config.EVENTS_MIN_REFRESH_INTERVAL_MINUTES, config.CALLBACK_URLS_PUBLIC_ONLY);
    if (patch.configuration && !element.webhooks) {
      // Changed credentials are checked now, as at creation, not by the next poll.
      await connectElement(element, configuration);
    }
    const next: InstanceSpec = {
      ...spec,
      name: patch.name ?? spec.name,
      tags: patch.tags ?? spec.tags,
      configuration: sealer.sealKeys(configuration, secretKeysOf(element)),
      publicConfiguration: redactConfiguration(element, configuration),
      events: {
        ...events,
        signatureKey: events.signatureKey && sealer.seal(events.signatureKey),
        webhookSecret: events.webhookSecret && sealer.seal(events.webhookSecret),
        webhookUri: spec.events.webhookUri,
      },
    };
    const view = await retryAbortedUpdate(() => handle.executeUpdate(configureUpdate, { args: [next] }));
    log.info({ instanceId: spec.id, changed: Object.keys(patch) }, 'instance changed');
    res.json(view);
  });

  router.delete('/instances/:id', async (req, res) => {
    const handle = await ownedInstance(caller(req), req.params.id!);
    await retryAbortedUpdate(() => handle.executeUpdate(deleteInstanceUpdate));
    await handle.result();
    log.info({ instanceId: Number(req.params.id) }, 'instance deleted');
    res.json({ id: Number(req.params.id), deleted: true });
  });

  return router;
}
