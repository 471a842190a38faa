// The current time as ISO 8601 UTC (`2026-12-06T23:47:51.753Z`) for every log line: the date and time up to the
// second are formatted once per second, the milliseconds appended. `new Date().toISOString()` per line cost ~6 µs of
// each bar call's CPU under load (5.9 of 688 µs in a profile).
let second = -1;
let prefix = '';

export function isoNow(): string {
  const now = Date.now();
  const ms = now % 1000;
  if (now - ms !== second) {
    second = now - ms;
    prefix = new Date(second).toISOString().slice(0, 20); // through the second's dot
  }
  return `${prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}
