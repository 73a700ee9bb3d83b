/**
 * One error class per protocol error code (node-oidc-provider style). The HTTP error
 * handler turns any ProtocolError into `{ error, error_description }` with its status;
 * anything else becomes a generic 500 `server_error` without details.
 *
 * Codes: RFC 6749 §5.2 (token endpoint), RFC 6750 §3.1 (bearer tokens), OID4VCI draft 13
 * §7.3.1 / §9.3 (credential and deferred endpoints), OID4VCI 1.0 (`credential_request_denied`).
 */
export abstract class ProtocolError extends Error {
  abstract readonly error: string;
  abstract readonly status: number;
  /** Extra members of the JSON error body (e.g. a fresh `c_nonce` with invalid_proof). */
  extra?: Record<string, unknown>;
  /** Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`). */
  headers?: Record<string, string>;
  constructor(description: string, extra?: Record<string, unknown>) {
    super(description);
    this.name = new.target.name;
    if (extra) this.extra = extra;
  }
  get description(): string {
    return this.message;
  }
}

export class InvalidRequest extends ProtocolError {
  readonly error = 'invalid_request';
  readonly status = 400;
}
export class InvalidGrant extends ProtocolError {
  readonly error = 'invalid_grant';
  readonly status = 400;
}
export class InvalidClient extends ProtocolError {
  readonly error = 'invalid_client';
  readonly status = 400;
}
export class UnauthorizedClient extends ProtocolError {
  readonly error = 'unauthorized_client';
  readonly status = 400;
}
export class UnsupportedGrantType extends ProtocolError {
  readonly error = 'unsupported_grant_type';
  readonly status = 400;
}

/** RFC 6750 §3.1: a missing, expired, revoked or malformed access token. */
export class InvalidToken extends ProtocolError {
  readonly error = 'invalid_token';
  readonly status = 401;
  constructor(description: string) {
    super(description);
    this.headers = { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"` };
  }
}

export class InvalidCredentialRequest extends ProtocolError {
  readonly error = 'invalid_credential_request';
  readonly status = 400;
}
export class UnsupportedCredentialType extends ProtocolError {
  readonly error = 'unsupported_credential_type';
  readonly status = 400;
}
export class UnsupportedCredentialFormat extends ProtocolError {
  readonly error = 'unsupported_credential_format';
  readonly status = 400;
}
/** OID4VCI draft 13 §7.3.1.2: the proof is missing or invalid; the body carries a fresh c_nonce. */
export class InvalidProof extends ProtocolError {
  readonly error = 'invalid_proof';
  readonly status = 400;
}
/** OID4VCI 1.0: the nonce in the proof is not (or no longer) valid. */
export class InvalidNonce extends ProtocolError {
  readonly error = 'invalid_nonce';
  readonly status = 400;
}
/** OID4VCI 1.0 §8.3.1.2: IDV declined the applicant; the credential will not be issued. */
export class CredentialRequestDenied extends ProtocolError {
  readonly error = 'credential_request_denied';
  readonly status = 400;
}
/** OID4VCI draft 13 §9.3: the credential is not ready yet; poll again later. */
export class IssuancePending extends ProtocolError {
  readonly error = 'issuance_pending';
  readonly status = 400;
}
/** OID4VCI 1.0 §8.3.1.2: the credential_configuration_id is not one this issuer offers. */
export class UnknownCredentialConfiguration extends ProtocolError {
  readonly error = 'unknown_credential_configuration';
  readonly status = 400;
}
/** OID4VCI 1.0 §8.3.1.2: a credential_identifier this issuer never handed out (it hands out none). */
export class UnknownCredentialIdentifier extends ProtocolError {
  readonly error = 'unknown_credential_identifier';
  readonly status = 400;
}
/** OID4VCI 1.0 §11.3: the notification_id is unknown or belongs to another grant. */
export class InvalidNotificationId extends ProtocolError {
  readonly error = 'invalid_notification_id';
  readonly status = 400;
}
/** OID4VCI 1.0 §11.3: the Notification Request is malformed. */
export class InvalidNotificationRequest extends ProtocolError {
  readonly error = 'invalid_notification_request';
  readonly status = 400;
}
export class InvalidTransactionId extends ProtocolError {
  readonly error = 'invalid_transaction_id';
  readonly status = 400;
}

export class AccessDenied extends ProtocolError {
  readonly error = 'access_denied';
  readonly status = 403;
}
export class Unauthorized extends ProtocolError {
  readonly error = 'unauthorized';
  readonly status = 401;
  constructor(description: string) {
    super(description);
    this.headers = { 'WWW-Authenticate': 'Bearer' };
  }
}
export class NotFound extends ProtocolError {
  readonly error = 'not_found';
  readonly status = 404;
}
export class MethodNotAllowed extends ProtocolError {
  readonly error = 'method_not_allowed';
  readonly status = 405;
}
export class Conflict extends ProtocolError {
  readonly error = 'conflict';
  readonly status = 409;
}
export class PayloadTooLarge extends ProtocolError {
  readonly error = 'invalid_request';
  readonly status = 413;
}
export class UnsupportedMediaType extends ProtocolError {
  readonly error = 'invalid_request';
  readonly status = 415;
}
/** Rate limit exceeded; carries Retry-After. */
export class TooManyRequests extends ProtocolError {
  readonly error = 'too_many_requests';
  readonly status = 429;
}
export class ServerError extends ProtocolError {
  readonly error = 'server_error';
  readonly status = 500;
}
/** A dependency (an IDV vendor's API) failed: the caller should retry (a vendor's webhook delivery does). */
export class TemporarilyUnavailable extends ProtocolError {
  readonly error = 'temporarily_unavailable';
  readonly status: number = 502;
}

/**
 * The issuer's own storage cannot take writes now (disk full, read-only, failing: the operator
 * must act; src/ports/failures.ts): 503 with Retry-After (RFC 9110 §15.6.4, §10.2.3), the same
 * `temporarily_unavailable` code. Reads that need no write keep being answered.
 */
export class StorageUnavailable extends TemporarilyUnavailable {
  override readonly status = 503;
  constructor(retryAfterSeconds = 30) {
    super('the issuer cannot store data at the moment; retry later');
    this.headers = { 'Retry-After': String(retryAfterSeconds) };
  }
}

/**
 * The IDV form link's own refusals (spec "PII collected by PFI"): JSON clients get the code,
 * the webview an HTML page titled `title` (src/http/errors.ts).
 */
export abstract class FormLinkError extends ProtocolError {
  readonly error: string = 'invalid_request';
  abstract readonly title: string;
  /** What the page says, when not the description itself. */
  readonly pageMessage?: string;
}
export class FormLinkUnknown extends FormLinkError {
  override readonly error = 'not_found';
  readonly status = 404;
  readonly title = 'Link not valid';
}
export class FormLinkExpired extends FormLinkError {
  readonly status = 410;
  readonly title = 'Link expired';
}
export class FormAlreadySubmitted extends FormLinkError {
  readonly status = 409;
  readonly title = 'Already submitted';
}
/** A cross-site or stale submission (double-submit CSRF check failed). */
export class FormSubmissionRefused extends FormLinkError {
  readonly status = 403;
  readonly title = 'Please try again';
  override readonly pageMessage = 'This form could not be accepted. Reload the page and submit it again.';
}
/** The configured IDV provider is a vendor: its verified webhook decides, so the link takes no submission. */
export class FormNotAccepted extends FormLinkError {
  readonly status = 405;
  readonly title = 'Continue with the verification';
  override headers = { Allow: 'GET' };
}
