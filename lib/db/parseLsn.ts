// A PostgreSQL LSN as text (`16/B374D848`, as pg_current_wal_lsn() and Dbapi-Lsn give it) to a number that orders as
// the WAL does; undefined if the text is not an LSN.
const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(text: string): bigint | undefined {
  const m = LSN.exec(text);
  return m ? (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`) : undefined;
}

/** The text of an LSN, as PostgreSQL writes it. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
