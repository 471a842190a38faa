// A real OpenID Connect provider (oidc-provider) on loopback for the identity tests: client-credentials grants that
// issue JWT access tokens; restartable with other signing keys (rotation) and stoppable (provider down).
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';

export const AUDIENCE = 'urn:dbapi';

export interface TestClient {
  id: string;
  scope: string;
  /** Extra claims in its tokens (a role, dbapi_dry_run, …). */
  claims?: Record<string, unknown>;
}

export interface IdentityProvider {
  issuer: string;
  /** The private signing keys, newest first (the first signs). */
  keys: JWK[];
  /** A client-credentials access token (a JWT) for this client. */
  token(clientId: string): Promise<string>;
  /** Adds a new signing key (it signs from now on; the old one stays in the JWKS) and restarts on the same port. */
  rotate(): Promise<JWK>;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function newSigningKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

export async function startIdentityProvider(clients: TestClient[]): Promise<IdentityProvider> {
  const keys = [await newSigningKey('key-1')];
  let server: Server | undefined;
  let port = 0;
  let fetches = 0;
  let issuer = '';

  const build = () => {
    // Its start-up notes (development adapter, default TTLs, Node 20) are for its own users, not for this test log.
    const warn = console.warn;
    const info = console.info;
    console.warn = console.info = () => {};
    const provider = new Provider(issuer, {
      clients: clients.map((c) => ({
        client_id: c.id, client_secret: `${c.id}-secret-0123456789`, grant_types: ['client_credentials'],
        redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_post',
      })),
      jwks: { keys: [...keys] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => AUDIENCE,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, _resource: string, client: { clientId: string }) => ({
            scope: clients.find((c) => c.id === client.clientId)!.scope,
            audience: AUDIENCE,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
      ttl: { ClientCredentials: 300 },
      extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => clients.find((c) => c.id === token.clientId)?.claims ?? {},
    } as any);
    console.warn = warn;
    console.info = info;
    const callback = provider.callback();
    return (req: any, res: any) => {
      if (req.url === '/jwks') fetches++;
      callback(req, res);
    };
  };

  const start = async () => {
    const s = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', () => resolve()));
    port = (s.address() as { port: number }).port;
    server = s;
  };
  let handler: ReturnType<typeof build> = () => {};
  await start();
  issuer = `http://127.0.0.1:${port}`;
  handler = build();

  const self: IdentityProvider = {
    issuer,
    keys,
    async token(clientId) {
      const client = clients.find((c) => c.id === clientId)!;
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.id, client_secret: `${client.id}-secret-0123456789`, scope: client.scope, resource: AUDIENCE }),
      });
      const body = await res.json() as { access_token?: string };
      if (!body.access_token) throw new Error(`no token: ${JSON.stringify(body)}`);
      return body.access_token;
    },
    async rotate() {
      const key = await newSigningKey(`key-${keys.length + 1}`);
      keys.unshift(key);
      handler = build(); // the same issuer and port, a new JWKS: what a provider's key rotation looks like outside
      return key;
    },
    jwksFetches: () => fetches,
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    start,
  };
  return self;
}
