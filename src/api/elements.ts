import { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../config';
import type { Element } from '../elements/element';
import { describeElement, findByKeyOrId } from '../elements/description';
import { badRequest, notFound } from '../errors';
import { httpUrl, parseOrThrow } from '../instances/request';
import { BASE_PATH } from './base-path';

/** Cloud Elements' names for the OAuth URL call. `apiSecret` is accepted (their clients send it) and never used or echoed. */
export const oauthUrlQuery = z.object({
  apiKey: z
    .string({
      error: (issue) => (issue.input === undefined ? 'apiKey (the OAuth client id) is required' : 'apiKey must be given once, as text'),
    })
    .min(1, 'apiKey (the OAuth client id) is required')
    .max(1024, 'apiKey must be at most 1024 characters'),
  apiSecret: z.string().max(1024).optional(),
  callbackUrl: httpUrl,
  state: z.string().max(1024).optional(),
  scope: z.string().max(1024).optional(),
  siteAddress: z.string().max(1024).optional(),
});

export const oauthUrlAnswerSchema = z.object({
  oauthUrl: z.string().meta({ description: "The provider's consent page, with the client id, redirect URI and state" }),
  element: z.string(),
});

/**
 * Elements describe themselves (`GET /elements`, `GET /elements/{keyOrId}`): how each authenticates,
 * its configuration keys and its events. The console builds its forms from this. The OAuth URL call
 * is the first step of connecting an OAuth element: the provider's consent page for the caller's app.
 */
export function elementsRouter({ config, catalog }: { config: Config; catalog: ReadonlyMap<string, Element> }): Router {
  const router = Router();
  const find = (keyOrId: string) => {
    const element = findByKeyOrId(catalog, keyOrId);
    // Named back only while short: the path is the caller's, up to the header limit.
    if (!element) throw notFound(keyOrId.length <= 100 ? `Element ${keyOrId} not found` : 'Element not found');
    return element;
  };

  // The descriptions depend on the code alone: made once, not per request.
  const described = new Map([...catalog.values()].map((e) => [e.key, describeElement(e, BASE_PATH)]));
  const all = [...described.values()];

  router.get('/elements', (_req, res) => {
    res.json(all);
  });

  router.get('/elements/:keyOrId', (req, res) => {
    res.json(described.get(find(String(req.params.keyOrId)).key));
  });

  router.get('/elements/:keyOrId/oauth/url', (req, res) => {
    const element = find(String(req.params.keyOrId));
    if (!element.oauth) {
      throw badRequest(`${element.key} does not authenticate with OAuth: its credentials go in the instance's configuration`, [
        { path: 'keyOrId', message: `${element.key} has no OAuth step` },
      ]);
    }
    const q = parseOrThrow(oauthUrlQuery, req.query, 'query');
    const oauthUrl = element.oauth.authorizeUrl({
      urls: config.providerUrls,
      apiKey: q.apiKey,
      callbackUrl: q.callbackUrl,
      state: q.state,
      scope: q.scope,
      siteAddress: q.siteAddress,
    });
    res.json({ oauthUrl, element: element.key } satisfies z.infer<typeof oauthUrlAnswerSchema>);
  });

  return router;
}
