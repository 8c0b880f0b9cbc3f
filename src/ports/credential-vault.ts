/**
 * Where credentials issued by a grant (e.g. a PostgreSQL login) wait for the requester to fetch them. Secrets are
 * stored encrypted and only their request id travels through workflow history, logs and audit events.
 */

/** A credential as the requester receives it, e.g. `{ username, password, host, port, database }`. */
export type CredentialSecret = Record<string, string>;

export interface CredentialVault {
  /** Stores (or replaces) the credential of a request. */
  put(requestId: string, secret: CredentialSecret): Promise<void>;
  /**
   * The credential of a request, or null when none is stored. Throws `CredentialVaultError` when the stored value
   * cannot be decrypted (another key, tampering, or a ciphertext moved from another request).
   */
  get(requestId: string): Promise<CredentialSecret | null>;
  /** Removes the credential; deleting an unknown request succeeds. */
  delete(requestId: string): Promise<void>;
  /** Releases the underlying connection; idempotent. */
  close(): Promise<void>;
}
