/**
 * The embedded default's sign-in: starts the demo OpenID provider (oidc-provider.ts) with the demo identities and
 * points the portal's sign-in at it. Skipped when the operator configured a provider (LOCKBOX_OIDC_ISSUER).
 */
import type { Authenticator } from '../api/auth.js';
import { createOidcAuthenticator } from '../api/auth-oidc.js';
import { withBearerFacts } from '../api/session/auth-facts.js';
import { DEMO_TOKENS } from '../config/demo.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../config/logger.js';
import { DEV_API_AUDIENCE, DEV_API_RESOURCE, startDevOidcProvider, type DevOidcProvider } from './oidc-provider.js';

/** Every demo person's password at the demo provider (printed in the ready banner; embedded default only). */
export const DEMO_PASSWORD = 'lockbox-demo';

export interface DemoSignIn {
  provider: DevOidcProvider;
  /** The config with the portal's sign-in pointed at the demo provider. */
  config: Config;
  /** Bearer JWTs the demo provider issues (device flow) for the API, with their `auth_time` for step-up. */
  bearer: Authenticator;
  banner: string[];
}

export async function startDemoSignIn(config: Config, log: Logger): Promise<DemoSignIn | null> {
  if (config.mode !== 'embedded' || config.signIn.issuer) return null;
  const portal = config.notify.portalUrl.replace(/\/+$/, '');
  const redirectUri = config.signIn.redirectUri ?? `${portal}/auth/callback`;
  const provider = await startDevOidcProvider({
    port: config.signIn.devProviderPort ?? config.port + 1,
    host: '127.0.0.1',
    people: Object.values(DEMO_TOKENS),
    password: DEMO_PASSWORD,
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [`${portal}/`],
  });
  log.info('demo OpenID provider started', { issuer: provider.issuer });
  const jwt = createOidcAuthenticator({ issuer: provider.issuer, audience: DEV_API_AUDIENCE, jwksUrl: `${provider.issuer}/jwks` });
  return {
    provider,
    config: {
      ...config,
      signIn: {
        ...config.signIn,
        issuer: provider.issuer,
        clientId: provider.portalClientId,
        clientSecret: undefined,
        redirectUri,
        scopes: ['openid', 'email', 'profile', 'lockbox'],
        // `lockbox login` (device flow) at the same provider, for JWT access tokens this API accepts.
        cliClientId: provider.cliClientId,
        cliResource: DEV_API_RESOURCE,
      },
    },
    bearer: {
      async authenticate(token, refused) {
        const p = await jwt.authenticate(token, refused);
        if (!p) return null;
        const authTime = readAuthTime(token);
        return authTime === undefined ? p : withBearerFacts({ ...p }, { authTime });
      },
    },
    banner: [
      `  Sign in      ${portal}/ with a demo person at the demo provider ${provider.issuer} (password ${DEMO_PASSWORD})`,
    ],
  };
}

/** `auth_time` of a JWT the authenticator already verified. */
function readAuthTime(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { auth_time?: unknown };
    return typeof payload.auth_time === 'number' ? payload.auth_time : undefined;
  } catch {
    return undefined;
  }
}
