// The current time as ISO 8601 UTC (`2026-12-06T23:47:51.753Z`), made once per millisecond: every log line carries it,
// and `new Date().toISOString()` cost ~6 µs of each bar call's CPU under load (5.9 of 688 µs in a profile).
let lastMs = -1;
let lastIso = '';

export function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}
