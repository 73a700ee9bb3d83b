import { kycTenantsFromKeys } from './kycTenants';
import { z } from 'zod';
import { invalid, parser, type Parser } from './setting';
import { parseTiersConfig } from './tiers';

/**
 * Parsers of environment variables' text for the settings table (src/config/settings.ts). A
 * refusal's message follows the variable's name: `KCC_VALIDITY_DAYS must be a positive number`.
 * Values of secrets are never echoed; other refused values are, cut to 40 characters.
 */
const got = (text: string) => `(got ${JSON.stringify(text.slice(0, 40))})`;

/** Any text. */
export const text: Parser<string> = z.string();

export const positiveNumber = parser((t) => {
  const value = Number(t);
  return Number.isFinite(value) && value > 0 ? value : invalid('must be a positive number');
});

export const positiveMilliseconds = parser((t) => {
  const value = Number(t);
  return Number.isInteger(value) && value > 0 ? value : invalid('must be a positive number of milliseconds');
});

/** A period in milliseconds where 0 turns the thing off. */
export const intervalMilliseconds = parser((t) => {
  const value = Number(t);
  return Number.isInteger(value) && value >= 0 ? value : invalid(`must be a whole number of milliseconds, 0 to disable ${got(t)}`);
});

export const portNumber = parser((t) => {
  const value = Number(t);
  return Number.isInteger(value) && value >= 0 && value <= 65535 ? value : invalid('must be a port number');
});

export function integerFromTo(min: number, max: number): Parser<number> {
  return parser((t) => {
    const value = Number(t);
    return Number.isInteger(value) && value >= min && value <= max ? value : invalid(`must be an integer from ${min} to ${max}`);
  });
}

/** One of a few words; `message` replaces "must be one of a, b" where the wording is established. */
export function oneOf<T extends string>(values: readonly T[], message?: string): Parser<T> {
  return parser((t) => ((values as readonly string[]).includes(t) ? (t as T) : invalid(`${message ?? `must be one of ${values.join(', ')}`} ${got(t)}`)));
}

/** `true` or `false`, nothing else. */
export const trueOrFalse = parser((t) => (t === 'true' ? true : t === 'false' ? false : invalid(`must be true or false ${got(t)}`)));

/** `true` turns it on; any other text leaves it off (the established reading of these flags). */
export const onlyTrue = parser((t) => t === 'true');

/** `off` turns it off; any other text leaves it on. */
export const unlessOff = parser((t) => t !== 'off');

/** Comma-separated, trimmed, empty entries dropped. */
export const commaList = parser((t) =>
  t
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export const httpsUrl = parser((t) => (URL.canParse(t) && new URL(t).protocol === 'https:' ? t : invalid('must be an https URL')));

/**
 * PUBLIC_URL: an absolute http(s) URL without query or fragment (every URL handed out is built
 * by appending a path to it); trailing slashes are dropped, so `https://kcc.example.com/` and
 * `https://kcc.example.com` are the same issuer identifier.
 */
export const publicBaseUrl = parser((t) => {
  if (!URL.canParse(t)) return invalid('must be an absolute http(s) URL');
  const url = new URL(t);
  if (!/^https?:$/.test(url.protocol)) return invalid(`must be an http(s) URL, not ${url.protocol.slice(0, -1)}`);
  if (url.search || t.includes('?')) return invalid('must not have a query (?…): paths are appended to it');
  if (url.hash || t.includes('#')) return invalid('must not have a fragment (#…)');
  if (url.username || url.password) return invalid('must not carry credentials');
  return url.href.replace(/\/+$/, '');
});

/** OTEL_EXPORTER_OTLP_HEADERS: `name=value` pairs, comma-separated, values percent-encoded (OpenTelemetry SDK environment variables spec). */
export const otlpHeaders = parser((t) => {
  const headers: Record<string, string> = {};
  for (const pair of t
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = pair.indexOf('=');
    const name = at > 0 ? pair.slice(0, at).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return invalid('must be name=value pairs, comma-separated');
    try {
      headers[name] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      return invalid('must be name=value pairs with percent-encoded values');
    }
  }
  return headers;
});

export const httpUrl = parser((t) => (URL.canParse(t) && /^https?:$/.test(new URL(t).protocol) ? t : invalid('must be an absolute http(s) URL')));

/** JSON text, parsed; the shape is checked where it is used. */
export const jsonText = parser((t): unknown => {
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return invalid('is not valid JSON');
  }
});

/** A 32-byte key as base64url (43 characters, unpadded); the value is never echoed. */
export const key32 = parser((t) => {
  const s = t.trim();
  if (!/^[A-Za-z0-9_-]{43}={0,1}$/.test(s)) return invalid('must be 32 bytes, base64url');
  const bin = atob(s.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
});

/** KYC_API_KEYS: tenant keys are bearer secrets, so each is at least 32 characters. */
export const apiKeys = parser((t) => {
  const keys = t
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  try {
    kycTenantsFromKeys(keys);
  } catch (e) {
    invalid((e as Error).message.replace(/^KYC_API_KEYS:? /, ''));
  }
  return keys;
});

/** ISSUER_CONTACTS: e-mail addresses for client_metadata `contacts`. */
export const contacts = parser((t) => {
  const list = t
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  return list.every((c) => c.length <= 200) ? list : invalid('must be comma-separated contacts (e-mail addresses), each under 200 characters');
});

/** A tiers document as JSON (docs/tiers-and-status.md). */
export const tiersDocument = parser((t) => {
  let json: unknown;
  try {
    json = JSON.parse(t);
  } catch {
    return invalid('must be JSON: { "defaultTierId"?: string, "tiers": [...] } (docs/tiers-and-status.md)');
  }
  try {
    return parseTiersConfig(json);
  } catch (e) {
    return invalid((e as Error).message);
  }
});

/** Incode's OIDC issuer: https without query or credentials; http only on loopback (tests). Trailing slashes dropped. */
export const incodeIssuer = parser((t) => {
  const issuer = t.replace(/\/+$/, '');
  if (!URL.canParse(issuer)) invalid('must be an absolute URL (https://auth.incode.com or https://auth.demo.incode.com)');
  const url = new URL(issuer);
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) || url.search || url.hash || url.username) {
    invalid('must be an https URL without query or credentials (http only on loopback)');
  }
  return issuer;
});

/** Space-separated OAuth scopes including openid, whitespace normalised. */
export const openidScope = parser((t) => {
  const scope = t.trim().replace(/\s+/g, ' ');
  return /^[\w:-]+(?: [\w:-]+)*$/.test(scope) && scope.split(' ').includes('openid')
    ? scope
    : invalid('must be space-separated scopes including openid (e.g. "openid profile address")');
});

/** SQLite's synchronous mode, in any case: a lower-case `full` must not fall back to NORMAL's weaker durability. */
export const sqliteSynchronousMode = parser((t) =>
  /^(normal|full)$/i.test(t) ? (t.toUpperCase() as 'NORMAL' | 'FULL') : invalid(`must be NORMAL or FULL ${got(t)}`),
);

/** WCAG 2.x relative luminance of an sRGB colour #rrggbb. */
function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** Why a brand colour cannot carry white button text (WCAG 2.x 1.4.3: 4.5:1), or undefined when it can. */
export function brandColourProblem(value: string): string | undefined {
  if (!/^#[0-9a-fA-F]{6}$/.test(value)) return `must be a colour #rrggbb ${got(value)}`;
  const contrast = 1.05 / (luminance(value) + 0.05);
  if (contrast < 4.5) return `${value}: white text on it has contrast ${contrast.toFixed(1)}:1, below WCAG's 4.5:1; choose a darker colour`;
  return undefined;
}

/** A brand colour #rrggbb on which white text keeps 4.5:1 contrast, lower-cased. */
export const brandColour = parser((t) => {
  const problem = brandColourProblem(t);
  return problem ? invalid(problem) : t.toLowerCase();
});

/** ISSUER_PKCS11_SLOT: a decimal slot id. */
export const decimalId = parser((t) => (/^\d+$/.test(t) ? t : invalid('must be a decimal slot id')));

/** ISSUER_PKCS11_KEY_LABEL: comma-separated labels, none empty. */
export const labelList = parser((t) => {
  const labels = t.split(',').map((l) => l.trim());
  return labels.some((l) => l === '') ? invalid('has an empty label') : labels;
});
