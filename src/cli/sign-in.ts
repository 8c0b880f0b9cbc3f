/**
 * The command line's side of OpenID Connect (`openid-client`): discovery at the issuer the API names
 * (`GET /auth/cli`), the device authorization grant (RFC 8628), refresh and revocation. Every failure becomes a
 * {@link CliError} that says what to fix: the provider is down, the issuer or client id is wrong, the code expired,
 * the person refused, or this machine's clock is off.
 */
import * as client from 'openid-client';
import { CliError, ExitCode } from './exit.js';
import type { Api } from './http.js';
import type { SavedLogin } from './token-cache.js';

/** What the API says about its CLI sign-in (`GET /auth/cli`). */
export interface CliSignInInfo {
  issuer: string;
  clientId: string;
  scopes: string[];
  resource?: string;
}

/** Plain http only for a provider on this machine (the embedded demo's). */
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])([:/]|$)/;
/** The access token is renewed when it has less than this left, so a command never starts with one about to expire. */
export const REFRESH_MARGIN_MS = 60_000;
/** Calls to the provider (discovery, token, revocation) give up after this. */
const PROVIDER_TIMEOUT_MS = 15_000;

/** Asks the API where to sign in. */
export async function fetchSignInInfo(api: Api, url: string): Promise<CliSignInInfo> {
  let body: Partial<CliSignInInfo>;
  try {
    body = (await api.get<Partial<CliSignInInfo>>('/auth/cli')).body;
  } catch (err) {
    if (err instanceof CliError && err.exitCode === ExitCode.notFound) {
      throw new CliError(`the Lockbox API at ${url} does not offer CLI sign-in (its operator sets LOCKBOX_OIDC_CLI_CLIENT_ID); use a token instead (LOCKBOX_TOKEN)`, ExitCode.usage);
    }
    throw err;
  }
  if (typeof body.issuer !== 'string' || typeof body.clientId !== 'string' || !Array.isArray(body.scopes)) {
    throw new CliError(`GET ${url}/auth/cli did not answer {issuer, clientId, scopes}: is ${url} a Lockbox API?`, ExitCode.unexpected);
  }
  return { issuer: body.issuer, clientId: body.clientId, scopes: body.scopes.filter((s): s is string => typeof s === 'string'), ...(typeof body.resource === 'string' ? { resource: body.resource } : {}) };
}

/** Discovery at the issuer, checked: the document must name the same issuer (openid-client compares them). */
export async function discover(issuer: string, clientId: string): Promise<client.Configuration> {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new CliError(`the API names an issuer that is not a URL (${issuer}): its LOCKBOX_OIDC_ISSUER is wrong`, ExitCode.unexpected);
  }
  if (url.protocol !== 'https:' && !LOOPBACK.test(issuer)) {
    throw new CliError(`the identity provider ${issuer} is not https: refusing to send sign-in secrets over plain http`, ExitCode.unexpected);
  }
  try {
    return await client.discovery(url, clientId, undefined, client.None(), {
      execute: LOOPBACK.test(issuer) ? [client.allowInsecureRequests] : [],
      timeout: PROVIDER_TIMEOUT_MS / 1000,
    });
  } catch (err) {
    throw describeProviderError(err, { issuer, clientId, stage: 'discovery' });
  }
}

/** The device flow: asks for a code, shows it (`show`), and waits until the person confirms (or refuses) it. */
export async function deviceLogin(
  info: CliSignInInfo,
  show: (d: { verificationUri: string; verificationUriComplete?: string; userCode: string; expiresInSec: number }) => void,
): Promise<SavedLogin> {
  const config = await discover(info.issuer, info.clientId);
  if (!config.serverMetadata().device_authorization_endpoint) {
    throw new CliError(`the identity provider at ${info.issuer} does not offer the device flow (RFC 8628), which lockbox login needs`, ExitCode.unexpected);
  }
  const ctx = { issuer: info.issuer, clientId: info.clientId, stage: 'device' as const };
  const extra: Record<string, string> = info.resource ? { resource: info.resource } : {};
  let started: client.DeviceAuthorizationResponse;
  try {
    started = await client.initiateDeviceAuthorization(config, { scope: info.scopes.join(' '), ...extra });
  } catch (err) {
    throw describeProviderError(err, ctx);
  }
  show({
    verificationUri: started.verification_uri,
    ...(started.verification_uri_complete ? { verificationUriComplete: started.verification_uri_complete } : {}),
    userCode: started.user_code,
    expiresInSec: started.expires_in,
  });
  let tokens: Awaited<ReturnType<typeof client.pollDeviceAuthorizationGrant>>;
  try {
    tokens = await client.pollDeviceAuthorizationGrant(config, started, extra);
  } catch (err) {
    throw describeProviderError(err, ctx);
  }
  return toLogin(info, tokens, undefined);
}

/** A new access token from the refresh token; the provider may rotate the refresh token too. */
export async function refreshLogin(login: SavedLogin): Promise<SavedLogin> {
  if (!login.refreshToken) throw new CliError('your login has expired (the provider gave no refresh token): run lockbox login', ExitCode.unauthenticated);
  const config = await discover(login.issuer, login.clientId);
  let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
  try {
    tokens = await client.refreshTokenGrant(config, login.refreshToken, login.resource ? { resource: login.resource } : {});
  } catch (err) {
    throw describeProviderError(err, { issuer: login.issuer, clientId: login.clientId, stage: 'refresh' });
  }
  return toLogin(login, tokens, login);
}

/** Revokes the refresh token where the provider has a revocation endpoint; false when it has none. Throws on failure. */
export async function revokeLogin(login: SavedLogin): Promise<boolean> {
  if (!login.refreshToken) return false;
  const config = await discover(login.issuer, login.clientId);
  if (!config.serverMetadata().revocation_endpoint) return false;
  try {
    await client.tokenRevocation(config, login.refreshToken, { token_type_hint: 'refresh_token' });
  } catch (err) {
    throw describeProviderError(err, { issuer: login.issuer, clientId: login.clientId, stage: 'revoke' });
  }
  return true;
}

type TokenAnswer = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

function toLogin(info: CliSignInInfo, tokens: TokenAnswer, previous: SavedLogin | undefined): SavedLogin {
  const claims = tokens.claims();
  const user = typeof claims?.email === 'string' ? claims.email : typeof claims?.sub === 'string' ? claims.sub : previous?.user;
  const authTime = typeof claims?.auth_time === 'number' ? claims.auth_time : previous?.authTime;
  const refreshToken = tokens.refresh_token ?? previous?.refreshToken;
  return {
    issuer: info.issuer,
    clientId: info.clientId,
    ...(info.resource ? { resource: info.resource } : {}),
    scopes: info.scopes,
    accessToken: tokens.access_token,
    ...(refreshToken ? { refreshToken } : {}),
    // Without expires_in the token's life is unknown: assume short, so it is renewed early rather than refused.
    expiresAt: new Date(Date.now() + (tokens.expires_in ?? 300) * 1000).toISOString(),
    ...(user ? { user } : {}),
    ...(authTime !== undefined ? { authTime } : {}),
  };
}

/**
 * An openid-client / oauth4webapi failure in words that say what to fix. Token values never appear: the messages
 * are the libraries' fixed texts and the provider's error codes.
 */
export function describeProviderError(err: unknown, ctx: { issuer: string; clientId: string; stage: 'discovery' | 'device' | 'refresh' | 'revoke' }): CliError {
  const { issuer, clientId, stage } = ctx;
  const again = stage === 'refresh' ? 'run lockbox login' : 'run lockbox login again';
  if (err instanceof CliError) return err;
  if (err instanceof client.ResponseBodyError) {
    switch (err.error) {
      case 'access_denied':
        return new CliError('sign-in was refused at the identity provider (access_denied): nothing was saved', ExitCode.unauthenticated);
      case 'expired_token':
        return new CliError('the code expired before the sign-in was confirmed; run lockbox login again', ExitCode.unauthenticated);
      case 'invalid_grant':
        return new CliError(
          stage === 'refresh' ? 'your login has expired or was revoked at the identity provider: run lockbox login' : `the identity provider refused the grant (invalid_grant): ${again}`,
          ExitCode.unauthenticated,
        );
      case 'invalid_client':
      case 'unauthorized_client':
        return new CliError(
          `the identity provider at ${issuer} does not accept client "${clientId}" for the device flow (${err.error}): the API's LOCKBOX_OIDC_CLI_CLIENT_ID is wrong, or the client is not allowed the device_code and refresh_token grants`,
          ExitCode.unexpected,
        );
      case 'invalid_scope':
      case 'invalid_target':
        return new CliError(`the identity provider refused the ${err.error === 'invalid_scope' ? 'scopes' : 'resource'} the API asks for (${err.error}): check LOCKBOX_OIDC_SCOPES / LOCKBOX_OIDC_CLI_RESOURCE`, ExitCode.unexpected);
      default:
        return new CliError(`the identity provider refused (${err.error}${err.error_description ? `: ${err.error_description.slice(0, 200)}` : ''}); ${again}`, stage === 'refresh' ? ExitCode.unauthenticated : ExitCode.unexpected);
    }
  }
  if (err instanceof client.ClientError) {
    const cause = err.cause;
    // JWT checks wrap oauth4webapi's error, whose own cause holds the claim, its value and the clock's `now`.
    const check = (cause instanceof Error ? cause.cause : undefined) as { claim?: unknown; now?: unknown; claims?: Record<string, unknown> } | undefined;
    switch (err.code) {
      case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
        return new CliError(
          `wrong issuer: the identity provider's discovery document at ${issuer} names a different issuer, so its tokens would not match; the API's issuer setting (LOCKBOX_OIDC_ISSUER) must be exactly the provider's "issuer"`,
          ExitCode.unexpected,
        );
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
        return new CliError(clockMessage(check), ExitCode.unexpected);
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
        return new CliError(
          `the ID token from ${issuer} was not issued for this client or by this issuer (its ${String(check?.claim ?? 'iss/aud')} does not match): check LOCKBOX_OIDC_ISSUER and LOCKBOX_OIDC_CLI_CLIENT_ID`,
          ExitCode.unexpected,
        );
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
      case 'OAUTH_RESPONSE_IS_NOT_JSON': {
        const status = cause instanceof Response ? cause.status : undefined;
        if (stage === 'discovery' && (status === 404 || err.code === 'OAUTH_RESPONSE_IS_NOT_JSON')) {
          return new CliError(`wrong issuer: ${issuer} has no OpenID discovery document (/.well-known/openid-configuration): check the API's LOCKBOX_OIDC_ISSUER`, ExitCode.unexpected);
        }
        if (status !== undefined && status >= 500) return unreachable(issuer, `HTTP ${status}`);
        return new CliError(`the identity provider at ${issuer} answered unexpectedly${status ? ` (HTTP ${status})` : ''}; ${again}`, ExitCode.unexpected);
      }
      case 'OAUTH_TIMEOUT':
        return unreachable(issuer, `no answer within ${PROVIDER_TIMEOUT_MS / 1000}s`);
      default:
        return new CliError(`sign-in failed at ${issuer}: ${err.message}`, ExitCode.unexpected);
    }
  }
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const cause = err.cause as { code?: string; message?: string } | undefined;
    return unreachable(issuer, cause?.code ?? cause?.message ?? 'no connection');
  }
  return new CliError(`sign-in failed at ${issuer}: ${err instanceof Error ? err.message : String(err)}`, ExitCode.unexpected);
}

function unreachable(issuer: string, why: string): CliError {
  return new CliError(`the identity provider at ${issuer} cannot be reached (${why}); is it up? try again shortly`, ExitCode.unreachable);
}

/** A token that is "already expired" or "not yet valid" by this machine's clock: say by how much, from its `iat`. */
function clockMessage(cause: { claim?: unknown; now?: unknown; claims?: Record<string, unknown> } | undefined): string {
  const claim = typeof cause?.claim === 'string' ? cause.claim : undefined;
  const now = typeof cause?.now === 'number' ? cause.now : Math.floor(Date.now() / 1000);
  const issuedAt = cause?.claims?.iat;
  const skew = typeof issuedAt === 'number' ? now - issuedAt : undefined;
  const by = skew === undefined ? '' : ` (this machine's clock is about ${formatSkew(Math.abs(skew))} ${skew > 0 ? 'ahead of' : 'behind'} the provider's)`;
  return `clock skew: the identity provider's token ${claim ? `fails its "${claim}" check ` : ''}by this machine's clock${by}; set the clock right (NTP) and run lockbox login again`;
}

function formatSkew(s: number): string {
  return s >= 5400 ? `${Math.round(s / 3600)} h` : s >= 90 ? `${Math.round(s / 60)} min` : `${s} s`;
}
