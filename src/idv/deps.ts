import type { HttpFetch, IdvProvider } from './provider';
import type { PiiVault } from './piiVault';
import type { BankLogin } from './existingCustomer/relyingParty';

/**
 * What identity verification needs at run time, built by the runtime (src/runtime/node.ts,
 * tests) and carried in `deps.idv`: the vendor providers by name, the PII vault, the secrets
 * that sign outbound webhooks, and the fetch used to deliver them.
 * The hosted form is always available under the name `hosted` (src/idv/hostedForm.ts).
 */
export interface IdvDeps {
  /** Vendor providers by name (persona, a generic HMAC vendor, …). */
  vendors: ReadonlyMap<string, IdvProvider>;
  /** Encrypts PII the hosted form collects; required for the hosted form to accept submissions. */
  vault?: PiiVault;
  /** Outbound webhook signing secrets; the first signs, all are listed for receivers rotating. */
  outboundSecrets: readonly string[];
  /** Delivers outbound webhooks (Node: global fetch; tests: a loopback receiver). */
  outboundFetch?: HttpFetch;
  /** "I already bank with <PFI> — sign in" (src/idv/existingCustomer/), when EXISTING_CUSTOMER_ISSUER is set. */
  existingCustomer?: BankLogin;
}

export function emptyIdvDeps(): IdvDeps {
  return { vendors: new Map(), outboundSecrets: [] };
}
