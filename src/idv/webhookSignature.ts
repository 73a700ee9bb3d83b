import { timingSafeEqual } from '../crypto/timingSafeEqual';
import { WebhookRejected } from './provider';

/**
 * Webhook signatures as IDV vendors use them, on the RAW bytes (never a re-serialised body),
 * compared in constant time, with several secrets accepted at once during rotation.
 *
 * - Timestamped (Stripe/Persona style): header `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 *   "<t>.<body>">`; during rotation several `t=…,v1=…` pairs separated by spaces (Persona)
 *   or several `v1=` entries (Stripe). The timestamp must lie within the tolerance window.
 * - Body HMAC (Onfido/Veriff style): a header holding the hex (or base64) HMAC-SHA256 of the
 *   raw body.
 */
const encoder = new TextEncoder();
function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/**
 * Imported HMAC keys, owned by one provider instance (importing costs more than the MAC of a
 * 20 KB body). Bounded to the few secrets a provider has.
 */
export interface HmacKeyring {
  mac(secret: string, ...parts: Uint8Array[]): Promise<Uint8Array>;
}

export function createHmacKeyring(maxKeys = 16): HmacKeyring {
  const keys = new Map<string, Promise<CryptoKey>>();
  return {
    async mac(secret, ...parts) {
      let key = keys.get(secret);
      if (!key) {
        if (keys.size >= maxKeys) keys.clear();
        key = hmacKey(secret);
        keys.set(secret, key);
      }
      return new Uint8Array(await crypto.subtle.sign('HMAC', await key, concat(parts)));
    },
  };
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const data = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    data.set(p, offset);
    offset += p.length;
  }
  return data;
}

export async function hmacSha256(secret: string, ...parts: Uint8Array[]): Promise<Uint8Array> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const data = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    data.set(p, offset);
    offset += p.length;
  }
  return new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), data));
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function fromHex(hex: string): Uint8Array | undefined {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function fromBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** Parses `t=…,v1=…[,v1=…][ t=…,v1=…]` into (timestamp, signatures) pairs. */
export function parseTimestampedHeader(header: string): { t: number; v1: string[] }[] {
  const groups: { t: number; v1: string[] }[] = [];
  for (const group of header.trim().split(/\s+/)) {
    let t: number | undefined;
    const v1: string[] = [];
    for (const part of group.split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      const name = part.slice(0, eq).trim();
      const value = part.slice(eq + 1).trim();
      if (name === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
      else if (name === 'v1') v1.push(value);
    }
    if (t !== undefined && v1.length) groups.push({ t, v1 });
  }
  return groups;
}

export interface TimestampedOptions {
  header: string | null | undefined;
  raw: Uint8Array;
  /** All secrets currently active (rotation: old and new). */
  secrets: readonly string[];
  /** ms. */
  now: number;
  toleranceSeconds: number;
  keyring?: HmacKeyring;
}

/** Returns the verified timestamp (seconds) or throws WebhookRejected. */
export async function verifyTimestampedHmac(options: TimestampedOptions): Promise<number> {
  if (!options.header) throw new WebhookRejected('missing_signature', 'signature header missing');
  if (options.secrets.length === 0) throw new WebhookRejected('bad_signature', 'no webhook secret configured');
  const groups = parseTimestampedHeader(options.header);
  if (groups.length === 0) throw new WebhookRejected('bad_signature', 'signature header malformed');
  const keyring = options.keyring ?? createHmacKeyring();
  let verifiedAt: number | undefined;
  for (const { t, v1 } of groups) {
    if (verifiedAt !== undefined) break;
    for (const secret of options.secrets) {
      const expected = await keyring.mac(secret, encoder.encode(`${t}.`), options.raw);
      for (const candidate of v1) {
        const given = fromHex(candidate);
        if (given && timingSafeEqual(given, expected)) verifiedAt = t;
      }
    }
  }
  if (verifiedAt === undefined) throw new WebhookRejected('bad_signature', 'no signature matched');
  // Checked after the MAC: an attacker cannot learn anything from which check fails first.
  if (Math.abs(options.now / 1000 - verifiedAt) > options.toleranceSeconds)
    throw new WebhookRejected('stale', 'signature timestamp outside the tolerance window');
  return verifiedAt;
}

export async function signTimestampedHmac(secret: string, raw: Uint8Array, timestampSeconds: number): Promise<string> {
  const mac = await hmacSha256(secret, encoder.encode(`${timestampSeconds}.`), raw);
  return `t=${timestampSeconds},v1=${toHex(mac)}`;
}

export interface BodyHmacOptions {
  signature: string | null | undefined;
  raw: Uint8Array;
  secrets: readonly string[];
  encoding: 'hex' | 'base64';
  /** Optional prefix in the header value, e.g. `sha256=`. */
  prefix?: string;
  keyring?: HmacKeyring;
}

export async function verifyBodyHmac(options: BodyHmacOptions): Promise<void> {
  if (!options.signature) throw new WebhookRejected('missing_signature', 'signature header missing');
  if (options.secrets.length === 0) throw new WebhookRejected('bad_signature', 'no webhook secret configured');
  let value = options.signature.trim();
  if (options.prefix) {
    if (!value.startsWith(options.prefix)) throw new WebhookRejected('bad_signature', 'signature header malformed');
    value = value.slice(options.prefix.length);
  }
  const given = options.encoding === 'hex' ? fromHex(value) : fromBase64(value);
  if (!given) throw new WebhookRejected('bad_signature', 'signature header malformed');
  const keyring = options.keyring ?? createHmacKeyring();
  let ok = false;
  for (const secret of options.secrets) {
    if (timingSafeEqual(given, await keyring.mac(secret, options.raw))) ok = true;
  }
  if (!ok) throw new WebhookRejected('bad_signature', 'no signature matched');
}

export async function signBodyHmac(secret: string, raw: Uint8Array, encoding: 'hex' | 'base64' = 'hex'): Promise<string> {
  const mac = await hmacSha256(secret, raw);
  return encoding === 'hex' ? toHex(mac) : btoa(String.fromCharCode(...mac));
}
