// `npm run logs`: the gateway's ECS JSON log lines as one short line each (time, level, message, the fields that
// matter), following LOG_FILE; or piped: `npm run dev | npm run -s logs`. pino-pretty does not know the ECS keys.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync, watchFile } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadSettings } from '../src/settings';
import { formatLogLine } from '../lib/log/formatLogLine';

const colour = process.stdout.isTTY;
const print = (line: string) => process.stdout.write(`${formatLogLine(line, colour)}\n`);

const stdin = fstatSync(0);
if (stdin.isFIFO() || stdin.isFile()) { // piped or redirected: read that; else (a terminal) follow the file
  createInterface({ input: process.stdin }).on('line', print);
} else {
  const file = loadSettings().log.file;
  if (!file) throw new Error('LOG_FILE is empty: the log goes to stdout only; pipe it: npm run dev | npm run -s logs');
  follow(file);
}

/** Prints the file's last lines, then what is appended (starting over when it is truncated or replaced). */
function follow(file: string) {
  let offset = 0;
  let rest = '';
  const read = () => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size < offset) offset = 0;
    if (size === offset) return;
    const fd = openSync(file, 'r');
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    closeSync(fd);
    offset = size;
    const lines = (rest + buffer.toString('utf8')).split('\n');
    rest = lines.pop()!;
    for (const line of lines) if (line) print(line);
  };
  if (existsSync(file)) offset = Math.max(0, statSync(file).size - 64 * 1024); // about the last few hundred lines
  if (offset > 0) {
    const fd = openSync(file, 'r');
    const buffer = Buffer.alloc(4096);
    const n = readSync(fd, buffer, 0, buffer.length, offset);
    closeSync(fd);
    const newline = buffer.subarray(0, n).indexOf(10);
    offset += newline + 1; // from the first whole line on
  }
  read();
  watchFile(file, { interval: 300 }, read);
  process.stderr.write(`following ${file} (Ctrl-C to stop)\n`);
}
