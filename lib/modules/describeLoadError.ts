// One line for a module that fails to compile or import: `file:line:column: message`, without the loader's stack.
import { relative } from 'node:path';

/** `where` is the folder whose files count as the module's (frames outside it are the loader's). */
export function describeLoadError(e: unknown, where: string, root: string): string {
  const message = e instanceof Error ? e.message : String(e);
  // esbuild (tsx) compile errors: "Transform failed with 1 error:\n/path/index.ts:1:23: ERROR: Unexpected "}""
  const compile = /^(\/[^\n]+?):(\d+):(\d+): ERROR: ([^\n]*)$/m.exec(message);
  if (compile) return `${relative(root, compile[1])}:${compile[2]}:${compile[3]}: ${compile[4]}`;
  // Thrown while importing: the first stack frame inside the module's folder says where.
  const stack = e instanceof Error ? e.stack ?? '' : '';
  for (const m of stack.matchAll(/\(?((?:file:\/\/)?\/[^\s()]+):(\d+):(\d+)\)?$/gm)) {
    const file = m[1].replace(/^file:\/\//, '');
    if (file.startsWith(`${where}/`)) return `${relative(root, file)}:${m[2]}:${m[3]}: ${firstLine(message)}`;
  }
  return firstLine(message);
}

const firstLine = (text: string) => text.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown error';
