// How PostgreSQL values become JSON-ready values: timestamps in UTC, dates as text, bytea as base64.
// int8 and numeric stay strings (postgres.js's default), so no precision is lost beyond 2^53.
export const pgTypes = {
  // timestamp without time zone: read as UTC, not as the process's local time.
  timestampUtc: {
    to: 1114,
    from: [1114],
    serialize: (x: Date | string) => (x instanceof Date ? x.toISOString() : x),
    parse: (x: string) => new Date(`${x.replace(' ', 'T')}Z`),
  },
  // date: kept as its ISO 8601 text (YYYY-MM-DD); a Date would shift it by the time zone.
  dateText: {
    to: 1082,
    from: [1082],
    serialize: (x: string) => x,
    parse: (x: string) => x,
  },
  // bytea: answered as base64 text.
  byteaBase64: {
    to: 17,
    from: [17],
    serialize: (x: Buffer | string) => (Buffer.isBuffer(x) ? `\\x${x.toString('hex')}` : x),
    parse: (x: string) => Buffer.from(x.slice(2), 'hex').toString('base64'),
  },
};
