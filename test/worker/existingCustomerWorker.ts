import { deriveExistingCustomerKeys } from '../../src/idv/existingCustomer/loginTransaction';
import { beginBankLogin, BankLoginRejected, completeBankLogin, createBankLogin, type BankLogin } from '../../src/idv/existingCustomer/relyingParty';
import { parseExistingCustomerSettings } from '../../src/idv/existingCustomer/settings';
import type { TierConfig } from '../../src/config';

/**
 * A minimal Worker around the existing-customer relying party, bundled by esbuild for workerd
 * (test/worker/existingCustomer.test.ts): proves openid-client and our code run on Web Crypto
 * and fetch alone (no nodejs_compat). POST /begin and POST /complete, JSON in and out.
 */
/** The two tiers of test/helpers/tiers.ts (that module imports Node-only helpers). */
const TIERS: TierConfig[] = [
  { id: 'kcc-basic', name: 'Basic', requiredChecks: ['document_verification'], validityDays: 365 },
  { id: 'kcc-enhanced', name: 'Enhanced', requiredChecks: ['document_verification', 'sanction_screening'], validityDays: 180 },
];

interface Env {
  SETTINGS: string;
  KEY_SECRET_HEX: string;
  REDIRECT_URI: string;
}

let login: BankLogin | undefined;

async function relyingParty(env: Env): Promise<BankLogin> {
  if (login) return login;
  const secret = new Uint8Array(env.KEY_SECRET_HEX.match(/../g)!.map((h) => parseInt(h, 16)));
  login = createBankLogin(
    parseExistingCustomerSettings(JSON.parse(env.SETTINGS), TIERS),
    {
      clock: () => Date.now(),
      fetch: (u, i) => fetch(u, i),
      random: { randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)) },
      keys: await deriveExistingCustomerKeys(secret),
    },
    { redirectUri: env.REDIRECT_URI, tiers: TIERS },
  );
  return login;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const rp = await relyingParty(env);
    const body = (await request.json()) as Record<string, string>;
    try {
      const path = new URL(request.url).pathname;
      if (path === '/begin') return Response.json(await beginBankLogin(rp, { formTokenDigest: body.formTokenDigest }));
      if (path === '/complete') return Response.json(await completeBankLogin(rp, { callbackUrl: body.callbackUrl, transaction: body.transaction }));
      return new Response('not found', { status: 404 });
    } catch (e) {
      if (e instanceof BankLoginRejected) return Response.json({ rejected: e.reason, detail: e.detail }, { status: 400 });
      return Response.json({ error: String(e) }, { status: 500 });
    }
  },
};
