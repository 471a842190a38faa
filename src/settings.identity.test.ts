// Settings of identity: the development token only when alone, caller names unique across sources, JWT settings,
// caller roles, METRICS_TOKEN / METRICS_PORT.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings } from './settings';
import { project, failure } from '../test/support/settingsProject';

const DEV = 'BEARER=dev-token-0123456789abcdef\n';
const billing = (extra: Record<string, unknown> = {}) => JSON.stringify([{ name: 'billing', tokens: ['billing-token-0123456789'], allow: ['*'], ...extra }]);


test('the development token of env/local/.env is active only when no other caller is configured', () => {
  const root = project({ local: DEV });
  const alone = loadSettings({}, root);
  expect([alone.callers.map((c) => c.name), alone.devToken]).toEqual([['default'], true]);
  const withCallers = loadSettings({ CALLERS: billing() }, root);
  expect([withCallers.callers.map((c) => c.name), withCallers.devToken]).toEqual([['billing'], false]);
  const withJwt = loadSettings({ JWT_ISSUER: 'https://idp.example.com/realms/x' }, root);
  expect([withJwt.callers, withJwt.devToken]).toEqual([[], false]);
  // A BEARER given as a real variable is meant: it stays beside CALLERS.
  const meant = loadSettings({ BEARER: 'real-token-0123456789abcdef', CALLERS: billing() }, root);
  expect([meant.callers.map((c) => c.name), meant.devToken]).toEqual([['billing', 'default'], false]);
});

test('caller names are unique across BEARER and CALLERS', () => {
  const twice = JSON.stringify([{ name: 'default', tokens: ['other-token-0123456789'], allow: ['*'] }]);
  expect(failure({ BEARER: 'real-token-0123456789abcdef', CALLERS: twice })).toMatch(/^Invalid setting CALLERS: caller "default" is also the name of BEARER's caller/);
});

test('a caller may name a PostgreSQL role, validated as an identifier', () => {
  expect(loadSettings({ CALLERS: billing({ role: 'billing_svc' }) }, project()).callers[0].role).toBe('billing_svc');
  for (const role of ['none', 'NONE', 'x; drop table y', '1abc', 'a"b', 'a'.repeat(64)]) {
    expect(failure({ CALLERS: billing({ role }) })).toMatch(/^Invalid setting CALLERS at 0.role: a PostgreSQL role name/);
  }
});

test('JWT settings: defaults, asymmetric algorithms only, JWT_ISSUER required, a JWKS file read at start', () => {
  const root = project();
  const s = loadSettings({ ENVIRONMENT: 'production', JWT_ISSUER: 'https://idp.example.com' }, root); // a JWT issuer alone is enough outside local
  expect(s.jwt).toEqual({
    issuer: 'https://idp.example.com', audience: undefined, clockSkewS: 30, jwksUrl: undefined, jwksFile: undefined, jwksCooldownS: 30,
    jwksMaxAgeS: 600, algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
    callerClaim: 'sub', scopeClaim: 'scope', roleClaim: undefined, dryRunClaim: 'dbapi_dry_run',
  });
  expect(loadSettings({ JWT_ISSUER: 'https://i', JWT_ALGORITHMS: 'ES256, EdDSA' }, root).jwt!.algorithms).toEqual(['ES256', 'EdDSA']);
  expect(failure({ JWT_ISSUER: 'https://i', JWT_ALGORITHMS: 'RS256,HS256' })).toMatch(/^Invalid setting JWT_ALGORITHMS/);
  expect(failure({ JWT_ISSUER: 'https://i', JWT_ALGORITHMS: 'none' })).toMatch(/^Invalid setting JWT_ALGORITHMS/);
  expect(failure({ JWT_AUDIENCE: 'api' })).toBe('Invalid setting JWT_AUDIENCE: needs JWT_ISSUER');
  expect(failure({ JWT_ISSUER: 'not a url' })).toMatch(/^Invalid setting JWT_ISSUER/);
  expect(failure({ JWT_ISSUER: 'https://i', JWT_JWKS_URL: 'file:///etc/passwd' })).toMatch(/^Invalid setting JWT_JWKS_URL/);
  writeFileSync(join(root, 'jwks.json'), '{"keys": []}');
  expect(loadSettings({ JWT_ISSUER: 'https://i', JWT_JWKS_FILE: 'jwks.json' }, root).jwt!.jwksFile).toEqual({ keys: [] });
  writeFileSync(join(root, 'bad.json'), '{"no": 1}');
  expect(failure({ JWT_ISSUER: 'https://i', JWT_JWKS_FILE: 'bad.json' }, root)).toMatch(/^Invalid setting JWT_JWKS_FILE: not a JSON Web Key Set/);
  expect(failure({ JWT_ISSUER: 'https://i', JWT_JWKS_FILE: 'missing.json' }, root)).toBe('Invalid setting JWT_JWKS_FILE: cannot read a JSON file there');
});

test('METRICS_TOKEN (or METRICS_TOKEN_FILE) is kept as a digest; METRICS_PORT is a port', () => {
  const root = project();
  writeFileSync(join(root, 'metrics'), 'scrape-token-0123456789\n');
  const s = loadSettings({ METRICS_TOKEN_FILE: 'metrics', METRICS_PORT: '9100' }, root);
  expect([s.metrics.token?.length, s.metrics.port]).toEqual([32, 9100]);
  expect(failure({ METRICS_TOKEN: 'short' })).toMatch(/^Invalid setting METRICS_TOKEN/);
  expect(failure({ METRICS_PORT: '70000' })).toMatch(/^Invalid setting METRICS_PORT/);
});
