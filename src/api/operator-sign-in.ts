import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import type { Config } from '../config';
import { HttpError } from '../errors';
import { clientKey, type LoginLimiter } from './login-limiter';
import { isOperatorToken } from './operator-auth';
import { SESSION_COOKIE, SESSION_SECONDS, type OperatorSessions } from './operator-session';

/**
 * Whether `origin` is the API itself as this request reached it (its own pages' POSTs). By host alone:
 * behind a proxy that ends TLS, the page is https while this server sees http, and no other site can
 * choose the Host header a browser sends.
 */
export function isOwnOrigin(origin: string, req: Request): boolean {
  try {
    return new URL(origin).host === req.header('host');
  } catch {
    return false;
  }
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const page = (title: string, body: string) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · element-events</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5">
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;

/**
 * The operator's sign-in for browsers, under the codec path: a form that takes OPERATOR_TOKEN once and
 * answers an HttpOnly, SameSite=Strict session cookie scoped to the codec endpoints (the token itself
 * is never stored in the browser), and a sign-out that drops it. No script: the form posts natively.
 */
export function signInRoutes(opts: {
  basePath: string;
  config: Config;
  sessions: OperatorSessions | undefined;
  limiter: LoginLimiter;
  operatorEndpointsOn: RequestHandler;
}): Router {
  const { basePath, config, limiter, operatorEndpointsOn } = opts;
  const router = Router();
  // helmet's policy as everywhere (no script at all here), less `upgrade-insecure-requests`, which
  // would send the form's post to https on a plain-http API that is not localhost.
  const csp = helmet.contentSecurityPolicy({ directives: { upgradeInsecureRequests: null } });
  // helmet's no-referrer makes browsers send `Origin: null` with this page's form posts, which the
  // origin check must refuse (another site can send null too); same-origin sends this page's origin.
  const pagePolicy: RequestHandler = (req, res, next) => {
    res.set('referrer-policy', 'same-origin');
    csp(req, res, next);
  };
  const form = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 4 });
  const uiUrl = config.TEMPORAL_UI_URL;
  const codecUrl = (req: Request) => `${req.protocol}://${req.header('host') ?? new URL(config.PUBLIC_URL).host}${basePath}`;
  const cookieOptions = (req: Request) => ({
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: req.secure || config.PUBLIC_URL.startsWith('https:'),
    path: basePath,
  });

  const signInForm = (message = '') => `${message}
<form method="post" action="${basePath}/sign-in">
<p><label for="token">Operator token</label><br>
<input id="token" name="token" type="password" autocomplete="current-password" required size="40"></p>
<p><button type="submit">Sign in</button></p>
</form>
<p>The token is <code>OPERATOR_TOKEN</code> (<code>dev-operator-token</code> with <code>npm start</code>). Signing in lets this
browser decode payloads for the Temporal UI through <code>${escapeHtml(basePath)}</code> for ${SESSION_SECONDS / 3600} hours.</p>`;

  const send = (res: Response, status: number, title: string, body: string) => res.status(status).type('html').send(page(title, body));

  router.get(`${basePath}/sign-in`, operatorEndpointsOn, pagePolicy, (_req, res) => {
    send(res, 200, 'Operator sign-in', signInForm());
  });

  router.post(`${basePath}/sign-in`, operatorEndpointsOn, pagePolicy, (req, res, next) => {
    // A sign-in posted by another site's page is refused: nobody may plant a session in an operator's browser.
    const origin = req.header('origin');
    if (origin !== undefined && !isOwnOrigin(origin, req)) {
      return send(res, 403, 'Operator sign-in', '<p role="alert">Sign in from this page itself.</p>');
    }
    const address = clientKey(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    try {
      limiter.check(address);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      res.set(err.headers);
      return send(res, err.status, 'Operator sign-in', `<p role="alert">${escapeHtml(err.message)}</p>`);
    }
    form(req, res, (err?: unknown) => {
      if (err) return next(err);
      const given = (req.body as { token?: unknown } | undefined)?.token;
      if (typeof given !== 'string' || !isOperatorToken(config.OPERATOR_TOKEN, given)) {
        limiter.failed(address);
        return send(res, 401, 'Operator sign-in', signInForm('<p role="alert">That is not the operator token.</p>'));
      }
      const session = opts.sessions!.create();
      res.cookie(SESSION_COOKIE, session.value, { ...cookieOptions(req), expires: session.expiresAt });
      const until = session.expiresAt.toISOString().slice(0, 16).replace('T', ' ');
      const ui = uiUrl ? `<a href="${escapeHtml(uiUrl)}">${escapeHtml(uiUrl)}</a>` : 'the Temporal UI';
      send(
        res,
        200,
        'Signed in as operator',
        `<p role="status">Signed in until ${until} UTC. This browser now sends a session (not your token) to the codec server
<code>${escapeHtml(codecUrl(req))}</code>.</p>
<p>Open ${ui}. A UI configured with the codec endpoint and <code>includeCredentials</code> (<code>npm run stack</code>,
docker compose) decodes at once. The UI of <code>npm start</code>'s embedded server knows the endpoint but not to send
credentials: in its <em>Codec Server</em> settings choose <em>Use my browser setting</em>, enter the endpoint above and turn on
<em>Include cross-origin credentials</em>.</p>
<form method="post" action="${basePath}/sign-out"><button type="submit">Sign out</button></form>`,
      );
    });
  });

  router.post(`${basePath}/sign-out`, operatorEndpointsOn, pagePolicy, (req, res) => {
    res.clearCookie(SESSION_COOKIE, cookieOptions(req));
    send(res, 200, 'Signed out', `<p role="status">This browser no longer decodes payloads.</p>${signInForm()}`);
  });
  return router;
}
