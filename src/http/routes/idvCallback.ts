import { Hono } from 'hono';
import { handleVendorCallback } from '../../issuance/identityVerification';
import { PATHS, issuerUrls } from '../../paths';
import { InvalidRequest, NotFound, TemporarilyUnavailable } from '../../protocol/errors';
import type { AppEnv } from '../context';
import { formErrorHandler } from '../errors';
import { htmlSecurityHeaders } from '../htmlHeaders';
import { rateLimitByIp } from '../rateLimit';
import { describeRoute, doc } from '../openapi';

/**
 * The redirect_uri of an OIDC IDV vendor (Incode, docs/incode.md): the applicant's webview
 * returns here with `code` and `state`; the use case redeems the code server-side. The
 * applicant ends on finish.html (where DIDPay closes the webview), or on a page saying why not.
 * The query holds a code: the page sends no Referer, and the request log names only the route.
 */
export const idvCallbackRoutes = new Hono<AppEnv>();

idvCallbackRoutes.get(
  PATHS.idvCallback,
  describeRoute({
    summary: "OIDC IDV vendor's redirect_uri (code and state; docs/incode.md)",
    tags: ['idv'],
    responses: {
      303: doc.redirect('Result applied: to finish.html'),
      400: doc.html('Result not accepted'),
      404: doc.html('No such provider'),
      502: doc.html('Result could not be fetched'),
    },
  }),
);
idvCallbackRoutes.get(PATHS.idvCallback, rateLimitByIp('idv'), async (c) => {
  const deps = c.get('deps');
  htmlSecurityHeaders(c, 'no-referrer');
  c.header('Cache-Control', 'no-store');
  const urls = issuerUrls(deps.config.publicUrl);
  const provider = c.req.param('provider');
  const outcome = await handleVendorCallback(
    deps,
    provider,
    { code: c.req.query('code'), state: c.req.query('state'), error: c.req.query('error') },
    urls.idvCallback(provider),
  );
  switch (outcome.status) {
    case 303:
      return c.redirect(urls.idvFinish, 303);
    case 404:
      throw new NotFound('no such IDV provider');
    case 502:
      throw new TemporarilyUnavailable('the verification result could not be fetched; open the link from your wallet again in a few minutes');
    default:
      throw new InvalidRequest(
        outcome.error === 'not_completed'
          ? 'the verification was not completed; open the link from your wallet to try again'
          : 'the verification result was not accepted',
      );
  }
});

idvCallbackRoutes.onError(formErrorHandler);
