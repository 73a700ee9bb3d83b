import { base64urlDecode, base64urlEncode } from '../../crypto/base64url';

/**
 * The login transaction: what the callback needs to finish one round trip through the bank's
 * login (state, nonce, PKCE code_verifier, the application's form token digest), sealed with
 * AES-256-GCM (Web Crypto, Node and Workers alike) and expiring. The http layer keeps it in an
 * HttpOnly, SameSite=Lax cookie scoped to the callback path: Lax because the bank returns the
 * browser with a cross-site top-level GET; a cookie rather than a row because it binds the
 * callback to the browser that started the login (a bank login completed in another browser,
 * e.g. a victim lured to an attacker's authorization URL, has no transaction and is refused).
 * docs/existing-customers.md discusses the choice.
 */

/** Keys of the existing-customer sign-in, from a port (derived once per process or isolate). */
export interface ExistingCustomerKeys {
  /** AES-256-GCM: seals login transactions. */
  seal: CryptoKey;
  /** HMAC-SHA256: the bank customer's `sub` as a keyed digest (links and audit, never in clear). */
  subject: CryptoKey;
}

const encoder = new TextEncoder();
const SEAL_AAD = encoder.encode('kcc-existing-customer-login-transaction-v1');

/**
 * Derives both keys from one 32-byte secret with HKDF-SHA256 and distinct labels. The subject
 * key must stay the same as long as links must match: rotating the secret orphans earlier links.
 */
export async function deriveExistingCustomerKeys(secret: Uint8Array): Promise<ExistingCustomerKeys> {
  if (secret.length < 32) throw new TypeError('the existing-customer key secret must be at least 32 bytes');
  const base = await crypto.subtle.importKey('raw', secret as Uint8Array<ArrayBuffer>, 'HKDF', false, ['deriveKey']);
  const hkdf = (info: string) => ({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(info) });
  const seal = await crypto.subtle.deriveKey(hkdf('kcc-existing-customer/login-transaction/v1'), base, { name: 'AES-GCM', length: 256 }, false, [
    'encrypt',
    'decrypt',
  ]);
  const subject = await crypto.subtle.deriveKey(hkdf('kcc-existing-customer/subject-digest/v1'), base, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, [
    'sign',
  ]);
  return { seal, subject };
}

/** What a login transaction holds. */
export interface LoginTransaction {
  /** The provider's issuer identifier the login was started with (a settings change invalidates it). */
  issuer: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  /** The application's form token digest (how the callback finds the application). */
  formTokenDigest: string;
  /**
   * The form token itself, so that the callback can lead back to the choice page or the regular
   * verification (the sealed cookie is no weaker a place for it than the form URL it came from).
   */
  formToken?: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

type Sealed = { v: 1; iss: string; st: string; no: string; cv: string; ft: string; tk?: string; exp: number };

/** Seals a transaction: base64url(iv ‖ ciphertext ‖ tag), a fresh 96-bit IV from the random port. */
export async function sealLoginTransaction(
  deps: { keys: Pick<ExistingCustomerKeys, 'seal'>; random: { randomBytes(length: number): Uint8Array } },
  tx: LoginTransaction,
): Promise<string> {
  const body: Sealed = {
    v: 1,
    iss: tx.issuer,
    st: tx.state,
    no: tx.nonce,
    cv: tx.codeVerifier,
    ft: tx.formTokenDigest,
    ...(tx.formToken ? { tk: tx.formToken } : {}),
    exp: tx.expiresAt,
  };
  const iv = deps.random.randomBytes(12);
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: iv as Uint8Array<ArrayBuffer>, additionalData: SEAL_AAD },
      deps.keys.seal,
      encoder.encode(JSON.stringify(body)),
    ),
  );
  const out = new Uint8Array(iv.length + ct.length);
  out.set(iv);
  out.set(ct, iv.length);
  return base64urlEncode(out);
}

const MAX_SEALED_LENGTH = 2048;
const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Opens a sealed transaction; undefined when it was not sealed by us (tampered, truncated,
 * another key) or has expired at `nowSeconds`. Never throws on attacker input.
 */
export async function openLoginTransaction(
  deps: { keys: Pick<ExistingCustomerKeys, 'seal'> },
  sealed: string,
  nowSeconds: number,
): Promise<LoginTransaction | 'expired' | undefined> {
  if (typeof sealed !== 'string' || sealed.length < 40 || sealed.length > MAX_SEALED_LENGTH || !B64URL.test(sealed)) return undefined;
  let body: Sealed;
  try {
    const bytes = base64urlDecode(sealed);
    const pt = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.slice(0, 12), additionalData: SEAL_AAD },
      deps.keys.seal,
      bytes.slice(12) as Uint8Array<ArrayBuffer>,
    );
    body = JSON.parse(new TextDecoder().decode(pt)) as Sealed;
  } catch {
    return undefined;
  }
  if (body?.v !== 1 || ![body.iss, body.st, body.no, body.cv, body.ft].every((v) => typeof v === 'string' && v.length > 0) || typeof body.exp !== 'number') {
    return undefined;
  }
  if (nowSeconds >= body.exp) return 'expired';
  return {
    issuer: body.iss,
    state: body.st,
    nonce: body.no,
    codeVerifier: body.cv,
    formTokenDigest: body.ft,
    ...(typeof body.tk === 'string' ? { formToken: body.tk } : {}),
    expiresAt: body.exp,
  };
}

/**
 * The bank customer's identifier as a keyed digest: HMAC-SHA256 over the issuer and `sub`
 * (a `sub` is unique only per issuer, OpenID Connect Core 1.0 §2), base64url. Stable for a
 * customer and key; without the key it reveals nothing and cannot be confirmed by guessing.
 */
export async function digestBankSubject(keys: Pick<ExistingCustomerKeys, 'subject'>, issuer: string, sub: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', keys.subject, encoder.encode(`${issuer}\n${sub}`));
  return base64urlEncode(new Uint8Array(mac));
}
