import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802/7677, the format of `pg_authid.rolpassword`).
 * Sending this instead of the password in `CREATE ROLE ... PASSWORD` keeps the plaintext out of the server's
 * statement log and pg_stat_statements; PostgreSQL recognises the format and stores it as is.
 * Only for ASCII passwords (ours are base64url), where SASLprep changes nothing.
 */
export function scramSha256Verifier(password: string, iterations = 4096): string {
  if (!/^[\x21-\x7e]+$/.test(password)) throw new RangeError('scram verifier: password must be printable ASCII');
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
