// Encodes a handler's result as JSON: `undefined` as null; BigInt as a decimal string (as int8 arrives from the driver).
export function encodeJson(value: unknown): string {
  try {
    return JSON.stringify(value ?? null);
  } catch (e) {
    // Only BigInt makes JSON.stringify throw a TypeError we can mend; a second pass is rare, so the fast path stays plain.
    if (!(e instanceof TypeError) || !/BigInt/i.test(e.message)) throw e;
    return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v));
  }
}
