/**
 * X.509 certificates (RFC 5280 §4.1) read from DER with a strict reader of our own, and their
 * signatures checked with Web Crypto (both runtimes). What the verifier of presented credentials
 * needs and no more: names, validity, serial number, basicConstraints, subjectAltName, the public
 * key, and a certificate's signature by another's key (ECDSA P-256/P-384/P-521, Ed25519, RSA
 * PKCS#1 v1.5 with SHA-2). RSA-PSS and other algorithms verify as false. A general X.509 library
 * (@peculiar/x509 with asn1js, tsyringe and reflect-metadata) weighed 63 KiB of the Workers
 * bundle's gzip (docs/cloudflare.md "Bundle size"); test/verifier/certificate.test.ts checks this
 * reader against it on certificates it makes.
 *
 * DER only (X.690 §10): definite lengths, one-byte tags, no bytes after a value where none may be.
 * Anything else throws CertificateParseError.
 */
export class CertificateParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateParseError';
  }
}

/** One DER value: its tag, and where its contents lie in the buffer. */
interface Tlv {
  tag: number;
  /** First byte of the header. */
  start: number;
  /** First byte of the contents. */
  at: number;
  /** One past the last byte of the contents. */
  end: number;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const OID = 0x06;
const BOOLEAN = 0x01;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

function fail(what: string): never {
  throw new CertificateParseError(`not a DER X.509 certificate: ${what}`);
}

/** The value starting at `pos`, which must end by `limit`. */
function tlv(buf: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) fail('truncated');
  const tag = buf[pos];
  if ((tag & 0x1f) === 0x1f) fail('multi-byte tag');
  let len = buf[pos + 1];
  let at = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) fail('indefinite length');
    if (n > 4 || at + n > limit) fail('length too long');
    if (buf[at] === 0) fail('length not minimal');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[at + i];
    if (len < 0x80) fail('length not minimal');
    at += n;
  }
  const end = at + len;
  if (end > limit) fail('truncated');
  return { tag, start: pos, at, end };
}

function expect(buf: Uint8Array, pos: number, limit: number, tag: number, what: string): Tlv {
  const v = tlv(buf, pos, limit);
  if (v.tag !== tag) fail(`${what} expected`);
  return v;
}

/** The values inside a constructed value, in order. */
function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = parent.at; pos < parent.end; ) {
    const v = tlv(buf, pos, parent.end);
    out.push(v);
    pos = v.end;
  }
  return out;
}

function oidOf(buf: Uint8Array, v: Tlv): string {
  if (v.tag !== OID || v.end === v.at) fail('OBJECT IDENTIFIER expected');
  const parts: number[] = [];
  let value = 0;
  for (let i = v.at; i < v.end; i++) {
    if (value === 0 && buf[i] === 0x80) fail('OBJECT IDENTIFIER not minimal');
    value = value * 128 + (buf[i] & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) fail('OBJECT IDENTIFIER arc too large');
    if (!(buf[i] & 0x80)) {
      parts.push(value);
      value = 0;
    } else if (i === v.end - 1) fail('OBJECT IDENTIFIER truncated');
  }
  const first = parts[0];
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...parts.slice(1)].join('.');
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A directory string's text; undefined for a type with no text form here. */
function stringOf(buf: Uint8Array, v: Tlv): string | undefined {
  const bytes = buf.subarray(v.at, v.end);
  switch (v.tag) {
    case 0x0c: // UTF8String
      try {
        return utf8.decode(bytes);
      } catch {
        return fail('UTF8String is not UTF-8');
      }
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x12: // NumericString
    case 0x1a: // VisibleString
    case 0x14: // TeletexString (T.61; read as Latin-1, as most implementations do)
      return latin1.decode(bytes);
    case 0x1e: {
      // BMPString: UTF-16BE
      if (bytes.length % 2) fail('BMPString of odd length');
      let s = '';
      for (let i = 0; i < bytes.length; i += 2) s += String.fromCharCode((bytes[i] << 8) | bytes[i + 1]);
      return s;
    }
    default:
      return undefined;
  }
}

/** RFC 4514 short names of the attribute types, as @peculiar/x509 prints them. */
const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'E',
  '2.5.4.42': 'G',
  '2.5.4.43': 'I',
  '2.5.4.4': 'SN',
  '2.5.4.12': 'T',
};
const ATTRIBUTE_OIDS = Object.fromEntries(Object.entries(ATTRIBUTE_NAMES).map(([oid, name]) => [name, oid]));

/** One attribute of a distinguished name: its type (OID) and its value as text, or `#hex` of its DER. */
export interface NameAttribute {
  type: string;
  value: string;
  /** The value had no text form: `value` is `#` and the hex of its DER. */
  raw?: boolean;
}

function escapeValue(text: string): string {
  return text
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/([ ]$)/, '\\$1')
    .replace(/[\r\n\t]/, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}

/** A Name (RFC 5280 §4.1.2.4): relative distinguished names in order, each a set of attributes. */
export class DistinguishedName {
  constructor(readonly rdns: readonly (readonly NameAttribute[])[]) {}

  /** The values of one attribute type, by short name (`C`, `ST`) or OID. */
  getField(typeOrName: string): string[] {
    const type = ATTRIBUTE_OIDS[typeOrName] ?? typeOrName;
    return this.rdns.flatMap((rdn) => rdn.filter((a) => a.type === type).map((a) => a.value));
  }

  /** RFC 4514-style text in the certificate's order (`CN=…, O=…, C=…`), as @peculiar/x509 prints it. */
  toString(): string {
    return this.rdns.map((rdn) => rdn.map((a) => `${ATTRIBUTE_NAMES[a.type] ?? a.type}=${a.raw ? a.value : escapeValue(a.value)}`).join('+')).join(', ');
  }
}

function nameOf(buf: Uint8Array, v: Tlv): DistinguishedName {
  if (v.tag !== SEQUENCE) fail('Name expected');
  const rdns = children(buf, v).map((set) => {
    if (set.tag !== SET) fail('RelativeDistinguishedName expected');
    const attributes = children(buf, set).map((seq): NameAttribute => {
      if (seq.tag !== SEQUENCE) fail('AttributeTypeAndValue expected');
      const [type, value, ...rest] = children(buf, seq);
      if (!type || !value || rest.length) fail('AttributeTypeAndValue expected');
      const text = stringOf(buf, value);
      return text === undefined
        ? { type: oidOf(buf, type), value: `#${hex(buf.subarray(value.start, value.end))}`, raw: true }
        : { type: oidOf(buf, type), value: text };
    });
    if (attributes.length === 0) fail('empty RelativeDistinguishedName');
    return attributes;
  });
  return new DistinguishedName(rdns);
}

function timeOf(buf: Uint8Array, v: Tlv): Date {
  const text = latin1.decode(buf.subarray(v.at, v.end));
  // RFC 5280 §4.1.2.5.1/2: UTCTime YYMMDDHHMMSSZ (years 1950–2049), GeneralizedTime YYYYMMDDHHMMSSZ.
  const m =
    v.tag === UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : v.tag === GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null;
  if (!m) fail('Time expected');
  let year = Number(m[1]);
  if (v.tag === UTC_TIME) year += year < 50 ? 2000 : 1900;
  const [month, day, hour, minute, second] = m.slice(2).map(Number);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) fail('Time out of range');
  return d;
}

/** An AlgorithmIdentifier: its OID and, for id-ecPublicKey, the named curve's OID. */
interface Algorithm {
  oid: string;
  parameter?: string;
}

function algorithmOf(buf: Uint8Array, v: Tlv): Algorithm {
  if (v.tag !== SEQUENCE) fail('AlgorithmIdentifier expected');
  const [oid, params, ...rest] = children(buf, v);
  if (!oid || rest.length) fail('AlgorithmIdentifier expected');
  return { oid: oidOf(buf, oid), ...(params?.tag === OID ? { parameter: oidOf(buf, params) } : {}) };
}

function bitStringOf(buf: Uint8Array, v: Tlv): Uint8Array {
  if (v.tag !== BIT_STRING || v.end === v.at || buf[v.at] !== 0) fail('BIT STRING of whole bytes expected');
  return buf.subarray(v.at + 1, v.end);
}

/** One extension (RFC 5280 §4.2): critical flag and the DER inside its OCTET STRING. */
interface Extension {
  critical: boolean;
  value: Tlv;
}

/** GeneralName (RFC 5280 §4.2.1.6) kinds the verifier reads; others keep their context tag number. */
export interface GeneralName {
  type: 'dns' | 'url' | 'email' | 'ip' | 'other';
  value: string;
}

const OIDS = {
  basicConstraints: '2.5.29.19',
  subjectAltName: '2.5.29.17',
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
};

const CURVES: Record<string, { name: string; size: number }> = {
  '1.2.840.10045.3.1.7': { name: 'P-256', size: 32 },
  '1.3.132.0.34': { name: 'P-384', size: 48 },
  '1.3.132.0.35': { name: 'P-521', size: 66 },
};

/** Signature algorithms (RFC 5758 §3.2, RFC 8410 §3, RFC 4055 §5) and the Web Crypto hash each uses. */
const SIGNATURES: Record<string, { family: 'ecdsa' | 'ed25519' | 'rsa'; hash?: string }> = {
  '1.2.840.10045.4.3.2': { family: 'ecdsa', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { family: 'ecdsa', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { family: 'ecdsa', hash: 'SHA-512' },
  '1.3.101.112': { family: 'ed25519' },
  '1.2.840.113549.1.1.11': { family: 'rsa', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { family: 'rsa', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { family: 'rsa', hash: 'SHA-512' },
};

/** An X.509 v1–v3 certificate parsed from DER. Throws CertificateParseError if it is not one. */
export class X509Certificate {
  readonly rawData: Uint8Array;
  readonly serialNumber: string;
  readonly subjectName: DistinguishedName;
  readonly issuerName: DistinguishedName;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The signed part (TBSCertificate), as it is encoded. */
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  /** SubjectPublicKeyInfo, as it is encoded (what Web Crypto imports as `spki`). */
  readonly spki: Uint8Array;
  readonly publicKeyAlgorithm: Algorithm;
  readonly #extensions = new Map<string, Extension>();

  constructor(der: Uint8Array) {
    const buf = new Uint8Array(der);
    this.rawData = buf;
    const cert = expect(buf, 0, buf.length, SEQUENCE, 'Certificate');
    if (cert.end !== buf.length) fail('bytes after the certificate');
    const [tbsV, sigAlgV, sigV, ...extra] = children(buf, cert);
    if (!tbsV || !sigAlgV || !sigV || extra.length || tbsV.tag !== SEQUENCE) fail('Certificate expected');
    this.tbs = buf.subarray(tbsV.start, tbsV.end);
    const outerAlgorithm = algorithmOf(buf, sigAlgV);
    this.signatureAlgorithm = outerAlgorithm.oid;
    this.signature = bitStringOf(buf, sigV);

    const fields = children(buf, tbsV);
    let i = 0;
    if (fields[i]?.tag === 0xa0) i++; // [0] EXPLICIT version
    const serial = fields[i++];
    if (serial?.tag !== INTEGER || serial.end === serial.at) fail('serialNumber expected');
    let serialBytes = buf.subarray(serial.at, serial.end);
    // As @peculiar/x509: a leading zero that only keeps the INTEGER positive is not part of the number.
    if (serialBytes.length > 1 && serialBytes[0] === 0 && serialBytes[1] > 0x7f) serialBytes = serialBytes.subarray(1);
    this.serialNumber = hex(serialBytes);
    const innerAlgorithm = algorithmOf(buf, fields[i++] ?? fail('signature expected'));
    // RFC 5280 §4.1.1.2: the signatureAlgorithm MUST equal TBSCertificate's signature.
    if (innerAlgorithm.oid !== outerAlgorithm.oid) fail('the two signature algorithms differ');
    this.issuerName = nameOf(buf, fields[i++] ?? fail('issuer expected'));
    const validity = fields[i++];
    if (validity?.tag !== SEQUENCE) fail('validity expected');
    const [nb, na, ...more] = children(buf, validity);
    if (!nb || !na || more.length) fail('validity expected');
    this.notBefore = timeOf(buf, nb);
    this.notAfter = timeOf(buf, na);
    this.subjectName = nameOf(buf, fields[i++] ?? fail('subject expected'));
    const spki = fields[i++];
    if (spki?.tag !== SEQUENCE) fail('subjectPublicKeyInfo expected');
    const [keyAlg, keyBits, ...spkiRest] = children(buf, spki);
    if (!keyAlg || !keyBits || spkiRest.length) fail('subjectPublicKeyInfo expected');
    this.publicKeyAlgorithm = algorithmOf(buf, keyAlg);
    bitStringOf(buf, keyBits);
    this.spki = buf.subarray(spki.start, spki.end);
    if (fields[i]?.tag === 0x81) i++; // [1] issuerUniqueID
    if (fields[i]?.tag === 0x82) i++; // [2] subjectUniqueID
    if (fields[i]?.tag === 0xa3) {
      const list = expect(buf, fields[i].at, fields[i].end, SEQUENCE, 'Extensions');
      if (list.end !== fields[i].end) fail('bytes after the extensions');
      for (const ext of children(buf, list)) {
        if (ext.tag !== SEQUENCE) fail('Extension expected');
        const parts = children(buf, ext);
        const id = oidOf(buf, parts[0] ?? fail('Extension expected'));
        let critical = false;
        let k = 1;
        if (parts[k]?.tag === BOOLEAN) {
          if (parts[k].end - parts[k].at !== 1) fail('BOOLEAN expected');
          critical = buf[parts[k].at] !== 0;
          k++;
        }
        const octets = parts[k];
        if (octets?.tag !== OCTET_STRING || parts.length !== k + 1) fail('extnValue expected');
        // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension.
        if (this.#extensions.has(id)) fail(`extension ${id} twice`);
        this.#extensions.set(id, { critical, value: octets });
      }
      i++;
    }
    if (i !== fields.length) fail('unexpected field in TBSCertificate');
    this.subject = this.subjectName.toString();
    this.issuer = this.issuerName.toString();
  }

  /** Whether the certificate carries the extension `oid` (e.g. `2.5.29.19`). */
  hasExtension(oid: string): boolean {
    return this.#extensions.has(oid);
  }

  /** basicConstraints (RFC 5280 §4.2.1.9); undefined when absent. */
  basicConstraints(): { ca: boolean; pathLength?: number } | undefined {
    const ext = this.#extensions.get(OIDS.basicConstraints);
    if (!ext) return undefined;
    const buf = this.rawData;
    const seq = expect(buf, ext.value.at, ext.value.end, SEQUENCE, 'BasicConstraints');
    if (seq.end !== ext.value.end) fail('bytes after BasicConstraints');
    let ca = false;
    let pathLength: number | undefined;
    for (const v of children(buf, seq)) {
      if (v.tag === BOOLEAN && pathLength === undefined && v.end - v.at === 1) ca = buf[v.at] !== 0;
      else if (v.tag === INTEGER && pathLength === undefined && v.end - v.at >= 1 && v.end - v.at <= 4 && !(buf[v.at] & 0x80)) {
        pathLength = 0;
        for (let j = v.at; j < v.end; j++) pathLength = pathLength * 256 + buf[j];
      } else fail('BasicConstraints expected');
    }
    return pathLength === undefined ? { ca } : { ca, pathLength };
  }

  /** subjectAltName (RFC 5280 §4.2.1.6) entries; empty when absent. */
  subjectAltNames(): GeneralName[] {
    const ext = this.#extensions.get(OIDS.subjectAltName);
    if (!ext) return [];
    const buf = this.rawData;
    const seq = expect(buf, ext.value.at, ext.value.end, SEQUENCE, 'GeneralNames');
    if (seq.end !== ext.value.end) fail('bytes after GeneralNames');
    return children(buf, seq).map((v): GeneralName => {
      const bytes = buf.subarray(v.at, v.end);
      if (v.tag === 0x82) return { type: 'dns', value: latin1.decode(bytes) };
      if (v.tag === 0x86) return { type: 'url', value: latin1.decode(bytes) };
      if (v.tag === 0x81) return { type: 'email', value: latin1.decode(bytes) };
      if (v.tag === 0x87) return { type: 'ip', value: hex(bytes) };
      return { type: 'other', value: `[${v.tag & 0x1f}]${hex(bytes)}` };
    });
  }

  /** The public key for Web Crypto `verify` (ECDSA on a named curve, Ed25519, RSA with `hash`). */
  async publicKey(hash = 'SHA-256', extractable = false): Promise<CryptoKey> {
    const { oid, parameter } = this.publicKeyAlgorithm;
    let algorithm: AlgorithmIdentifier | EcKeyImportParams | RsaHashedImportParams;
    if (oid === OIDS.ecPublicKey) {
      const curve = parameter ? CURVES[parameter] : undefined;
      if (!curve) throw new CertificateParseError('the public key is on a curve not supported here');
      algorithm = { name: 'ECDSA', namedCurve: curve.name };
    } else if (oid === OIDS.ed25519) algorithm = { name: 'Ed25519' };
    else if (oid === OIDS.rsaEncryption) algorithm = { name: 'RSASSA-PKCS1-v1_5', hash };
    else throw new CertificateParseError(`public key algorithm ${oid} is not supported here`);
    return globalThis.crypto.subtle.importKey('spki', new Uint8Array(this.spki), algorithm, extractable, ['verify']);
  }

  /** Whether `issuer`'s public key verifies this certificate's signature. Never throws. */
  async isSignedBy(issuer: X509Certificate): Promise<boolean> {
    const scheme = SIGNATURES[this.signatureAlgorithm];
    if (!scheme) return false;
    const keyOid = issuer.publicKeyAlgorithm.oid;
    const fits =
      (scheme.family === 'ecdsa' && keyOid === OIDS.ecPublicKey) ||
      (scheme.family === 'ed25519' && keyOid === OIDS.ed25519) ||
      (scheme.family === 'rsa' && keyOid === OIDS.rsaEncryption);
    if (!fits) return false;
    try {
      const key = await issuer.publicKey(scheme.hash);
      const subtle = globalThis.crypto.subtle;
      const tbs = new Uint8Array(this.tbs);
      if (scheme.family === 'ed25519') return await subtle.verify({ name: 'Ed25519' }, key, new Uint8Array(this.signature), tbs);
      if (scheme.family === 'rsa') return await subtle.verify({ name: 'RSASSA-PKCS1-v1_5' }, key, new Uint8Array(this.signature), tbs);
      const size = CURVES[issuer.publicKeyAlgorithm.parameter ?? '']?.size;
      const raw = size ? ecdsaDerToRaw(this.signature, size) : undefined;
      if (!raw) return false;
      return await subtle.verify({ name: 'ECDSA', hash: scheme.hash! }, key, raw, tbs);
    } catch {
      return false;
    }
  }

  /** SHA-256 (or `hash`) of the DER. */
  async thumbprint(hash = 'SHA-256'): Promise<Uint8Array> {
    return new Uint8Array(await globalThis.crypto.subtle.digest(hash, new Uint8Array(this.rawData)));
  }

  /** PEM (RFC 7468 §5), 64 characters a line. */
  toPem(): string {
    let b64 = '';
    const chunk = 0x8000;
    for (let i = 0; i < this.rawData.length; i += chunk) b64 += String.fromCharCode(...this.rawData.subarray(i, i + chunk));
    const lines = btoa(b64).match(/.{1,64}/g) ?? [];
    return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----`;
  }
}

/** ECDSA-Sig-Value (RFC 5480 §2.2: SEQUENCE { r INTEGER, s INTEGER }) → r‖s of `size` bytes each, as Web Crypto takes it. */
function ecdsaDerToRaw(der: Uint8Array, size: number): Uint8Array<ArrayBuffer> | undefined {
  try {
    const seq = expect(der, 0, der.length, SEQUENCE, 'ECDSA-Sig-Value');
    const ints = children(der, seq);
    if (seq.end !== der.length || ints.length !== 2) return undefined;
    const out = new Uint8Array(2 * size);
    for (const [n, v] of ints.entries()) {
      if (v.tag !== INTEGER || v.end === v.at || der[v.at] & 0x80) return undefined;
      let bytes = der.subarray(v.at, v.end);
      while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
      if (bytes.length > size) return undefined;
      out.set(bytes, (n + 1) * size - bytes.length);
    }
    return out;
  } catch {
    return undefined;
  }
}
