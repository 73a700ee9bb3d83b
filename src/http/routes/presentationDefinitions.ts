import { Hono } from 'hono';
import { NotFound } from '../../protocol/errors';
import { findTier, tierPresentationDefinition } from '../../protocol/tiers';
import type { AppEnv } from '../context';
import { HELD_DEFINITION_SUFFIX, acceptsHeldCredentials, heldCredentialDefinition } from '../../issuance/heldCredentials';
import { PATHS, issuerUrls } from '../../paths';
import { describeRoute, doc } from '../openapi';
import { PresentationDefinition, Tiers } from '../apiBodies';

/**
 * The Presentation Definition (DIF PE 2.0) of each KCC tier, at a stable URL
 * (spec "Multiple Credential Types"): /presentation-definitions/<tier id>. The id is the
 * presentation_definition_id the initiation GET takes. The list gives every tier.
 */
export const presentationDefinitionRoutes = new Hono<AppEnv>();

const CACHE = 'public, max-age=300';

presentationDefinitionRoutes.get(
  PATHS.presentationDefinitions,
  describeRoute({ summary: 'The KCC tiers', tags: ['metadata'], responses: { 200: doc.json('Tiers', Tiers) } }),
);
presentationDefinitionRoutes.get(PATHS.presentationDefinitions, (c) => {
  const deps = c.get('deps');
  const urls = issuerUrls(deps.config.publicUrl);
  return c.json(
    {
      default: deps.config.defaultTierId,
      tiers: deps.config.tiers.map((t) => ({
        id: t.id,
        name: t.name,
        required_checks: t.requiredChecks,
        validity_days: t.validityDays,
        accepts_prior_credentials: (t.acceptsPriorCredentialsFrom ?? []).length > 0,
        ...(acceptsHeldCredentials(deps, t) ? { held_credentials_definition_uri: urls.presentationDefinition(`${t.id}${HELD_DEFINITION_SUFFIX}`) } : {}),
        presentation_definition_uri: urls.presentationDefinition(t.id),
        initiate_uri: `${urls.initiate}?presentation_definition_id=${encodeURIComponent(t.id)}`,
      })),
    },
    200,
    { 'Cache-Control': CACHE, 'Access-Control-Allow-Origin': '*' },
  );
});

presentationDefinitionRoutes.get(
  PATHS.presentationDefinition,
  describeRoute({
    summary: 'Presentation Definition of a tier',
    tags: ['metadata'],
    responses: { 200: doc.json('Presentation Definition', PresentationDefinition), 404: doc.error('No such tier') },
  }),
);
presentationDefinitionRoutes.get(PATHS.presentationDefinition, (c) => {
  const deps = c.get('deps');
  const id = c.req.param('id');
  // <tier id>-held: the credentials people already hold that the tier accepts (what its SIOP request carries).
  const held = id.endsWith(HELD_DEFINITION_SUFFIX) ? findTier(deps.config.tiers, id.slice(0, -HELD_DEFINITION_SUFFIX.length)) : undefined;
  if (held && acceptsHeldCredentials(deps, held))
    return c.json(heldCredentialDefinition(deps, held), 200, { 'Cache-Control': CACHE, 'Access-Control-Allow-Origin': '*' });
  const tier = findTier(deps.config.tiers, id);
  if (!tier) throw new NotFound('no such presentation definition');
  return c.json(tierPresentationDefinition(tier, deps.issuer.did), 200, { 'Cache-Control': CACHE, 'Access-Control-Allow-Origin': '*' });
});
