// Bearer parsing, the verified-token cache, token rotation, SHA-256-only tokens and allow patterns.
import { createHash } from 'node:crypto';
import { callerFinder } from './callerFinder';
import { isAllowed } from './checkScope';
import type { Caller } from './Caller';

const hash = (t: string) => createHash('sha256').update(t).digest();
const billing: Caller = { name: 'billing', tokenHashes: [hash('old-token-0123456789'), hash('new-token-0123456789')], allow: ['example/*'], dryRun: false };
const ops: Caller = { name: 'ops', tokenHashes: [Buffer.from(createHash('sha256').update('ops-token-0123456789').digest('hex'), 'hex')], allow: ['*'], dryRun: false };
const callers = [billing, ops];
const findCaller = callerFinder(callers);

test('both tokens of a caller are valid at once (rotation without downtime)', () => {
  expect(findCaller('Bearer old-token-0123456789')).toBe(billing);
  expect(findCaller('Bearer new-token-0123456789')).toBe(billing);
});

test('a caller configured by SHA-256 only is found by its token', () => {
  expect(findCaller('bearer ops-token-0123456789')).toBe(ops);
});

test.each([
  [undefined], [''], ['Bearer'], ['Bearer '], ['old-token-0123456789'], ['Bearer Bearer old-token-0123456789'],
  [' Bearer old-token-0123456789'], ['Bearer old-token-0123456789 '], ['Bearer\told-token-0123456789'],
  ['Bearer old-token-012345678'], ['Bearer old-token-01234567890'], ['Basic old-token-0123456789'],
])('no caller for %p', (header) => {
  expect(findCaller(header)).toBeUndefined();
});

test('allow patterns: *, module/*, module/action, module (the root action)', () => {
  const c = (allow: string[]): Caller => ({ name: 'c', tokenHashes: [], allow, dryRun: false });
  expect(isAllowed(c(['*']), 'any/thing')).toBe(true);
  expect([isAllowed(c(['example/*']), 'example/foo'), isAllowed(c(['example/*']), 'example'), isAllowed(c(['example/*']), 'other/foo')]).toEqual([true, true, false]);
  expect([isAllowed(c(['example/foo']), 'example/foo'), isAllowed(c(['example/foo']), 'example/bar')]).toEqual([true, false]);
  expect([isAllowed(c(['example']), 'example'), isAllowed(c(['example']), 'example/foo')]).toEqual([true, false]);
});

test('a verified token is remembered; an unknown one never is', () => {
  const find = callerFinder(callers);
  expect([find('Bearer new-token-0123456789'), find('bearer new-token-0123456789')]).toEqual([billing, billing]);
  expect([find('Bearer nope-token-0123456789'), find('Bearer nope-token-0123456789')]).toEqual([undefined, undefined]);
});
