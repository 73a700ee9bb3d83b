import type { TierConfig } from '../../src/config';
import { decodeJwt } from '../../src/crypto/jwt';
import { runCli } from '../../src/verifier/cli';
import { WalletClient } from '../../src/wallet/client';
import { applyForKcc, SAMPLE_IDENTITY } from '../../src/wallet/flow';
import { Holder } from '../../src/wallet/holder';
import { ADMIN_TOKEN, PUBLIC_URL, makeTestIssuer, testClock } from './issuer';

export const TIERS: TierConfig[] = [
  {
    id: 'kcc-basic',
    name: 'Basic',
    requiredChecks: ['document_verification'],
    validityDays: 365,
    evidenceMaxAgeDays: { document_verification: 1095 },
    acceptsPriorCredentialsFrom: ['self'],
  },
  {
    id: 'kcc-enhanced',
    name: 'Enhanced',
    requiredChecks: ['document_verification', 'sanction_screening'],
    validityDays: 180,
    evidenceMaxAgeDays: { document_verification: 1095, sanction_screening: 90 },
    acceptsPriorCredentialsFrom: ['self'],
  },
];

/** An issuer with two tiers, a wallet factory on the issuer's clock, admin and CLI helpers. */
export async function makeTieredIssuer(
  options: { publicUrl?: string; tiers?: TierConfig[]; clock?: ReturnType<typeof testClock> } & Pick<
    Parameters<typeof makeTestIssuer>[0] & object,
    'didMethods' | 'statusListFetch'
  > = {},
) {
  const clock = options.clock ?? testClock();
  const t = await makeTestIssuer({
    clock,
    config: { tiers: options.tiers ?? TIERS, ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}) },
    didMethods: options.didMethods,
    statusListFetch: options.statusListFetch,
  });
  const base = options.publicUrl ?? PUBLIC_URL;
  const nowSeconds = () => Math.floor(clock() / 1000);
  const wallet = async (holder?: Holder) => new WalletClient(holder ?? (await Holder.create()), t.fetch, { now: nowSeconds });
  const apply = (client: WalletClient, tier: string, credentials?: string[], identity = SAMPLE_IDENTITY) => {
    const steps: string[] = [];
    return applyForKcc(client, {
      issuer: base,
      identity,
      presentationDefinitionId: tier,
      credentials,
      onStep: (s) => steps.push(s.step),
      pollAttempts: 0,
    }).then((r) => ({ ...r, steps }));
  };
  const admin = async (path: string, body?: unknown) => {
    const res = await t.app.request(`${base}/admin${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  /** Runs `kcc verify` with the network wired into the app. */
  const cli = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['verify', ...args, '--allow-http', '--now', new Date(clock()).toISOString()], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      fetch: ((input: RequestInfo | URL, init?: RequestInit) => t.app.request(String(input), init)) as typeof fetch,
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  return { ...t, clock, base, nowSeconds, wallet, apply, admin, cli };
}

export function vcOf(jwt: string): any {
  return decodeJwt(jwt).payload.vc;
}
