export type DomainErrorCode = 'PARTNER_DELETED' | 'INTEGRATION_REVOKED';

/** A business rule said no; the API maps each code to an HTTP status. */
export class DomainError extends Error {
  readonly code: DomainErrorCode;
  constructor(code: DomainErrorCode, message: string) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
  }
}
