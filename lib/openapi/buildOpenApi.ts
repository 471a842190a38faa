// Builds the OpenAPI 3.1 document from the loaded route tables: one POST path per action, plus /_batch.
import { z } from 'zod';
import type { LoadedAction, LoadedModule } from '../modules/loadModules';
import { ERRORS } from '../errors/ApiError';
import { GATEWAY_PATHS } from '../http/gatewayPaths';
import { exampleFromSchema } from './exampleFromSchema';

type JsonSchema = Record<string, unknown>;

/** zod → JSON Schema (2020-12, which OpenAPI 3.1 uses); what JSON cannot express (dates, transforms) becomes `{}`. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return rest;
}

const errorRef = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

/** The error answers, by status, each listing the codes it may carry. */
function errorResponses(): Record<string, unknown> {
  const byStatus = new Map<number, string[]>();
  for (const [code, { status }] of Object.entries(ERRORS)) byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  return Object.fromEntries([...byStatus].sort(([a], [b]) => a - b).map(([status, codes]) => [
    String(status), RETRY_LATER.has(status) ? { ...errorRef(codes.join(', ')), headers: RETRY_AFTER_HEADER } : errorRef(codes.join(', ')),
  ]));
}

/**
 * The action's example params: its own (checked at start), else one derived from its schema (with the optional
 * fields, else without) that its schema accepts. Swagger UI's "Try it out" starts from it instead of inventing
 * values from patterns (an "email" made from zod's regular expression is refused).
 */
function exampleOf(action: LoadedAction, schema: JsonSchema): { example?: unknown } {
  if (action.example !== undefined) return { example: action.example };
  for (const optional of [true, false]) {
    const guess = exampleFromSchema(schema, optional);
    if (action.params.safeParse(guess).success) return { example: guess };
  }
  return {};
}
// Answers that say when to try again: a caller over its fair share (429), no connection or database (503).
const RETRY_LATER = new Set([429, 503]);
const RETRY_AFTER_HEADER = { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } } };

/** `Request-Timeout`: the caller's deadline for the call, in ms (504 past it). */
const REQUEST_TIMEOUT = {
  name: 'Request-Timeout', in: 'header', required: false,
  description: 'This call\'s deadline in milliseconds: it bounds the wait for a connection and every statement (504 past it), never beyond the server\'s own limits',
  schema: { type: 'integer', minimum: 1, maximum: 99_999_999 },
};

function operation(action: LoadedAction, errors: Record<string, unknown>) {
  const params = jsonSchema(action.params, 'input');
  return {
    operationId: action.id.replace(/[/-]/g, '_'),
    tags: [action.module],
    summary: action.id,
    description: (action.description ? `${action.description}\n\n` : '') + (action.database === false ? `Runs \`${action.id}\` without a database. ` : `Runs \`${action.id}\` in one ${action.needs.readOnly ? 'read-only ' : ''}transaction on the \`${action.database}\` database. `)
      + 'An action that streams answers NDJSON (`application/x-ndjson`), or a JSON array when `Accept: application/json`. '
      + '`Prefer: tx=rollback` runs it and rolls back (callers allowed to only).',
    parameters: [
      { name: 'Prefer', in: 'header', required: false, schema: { type: 'string', enum: ['tx=rollback'] } },
      { name: 'X-Request-Id', in: 'header', required: false, schema: { type: 'string' } },
      REQUEST_TIMEOUT,
    ],
    requestBody: { required: false, content: { 'application/json': { schema: params, ...exampleOf(action, params) } } },
    responses: {
      200: {
        description: 'The action\'s result',
        content: { 'application/json': { schema: action.result ? jsonSchema(action.result, 'output') : {} } },
      },
      ...errors,
    },
  };
}

export function buildOpenApi(modules: readonly LoadedModule[], info: { title: string; version: string }) {
  const errors = errorResponses();
  const paths: Record<string, unknown> = {};
  for (const action of modules.flatMap((m) => m.actions)) paths[action.path] = { post: operation(action, errors) };
  paths[GATEWAY_PATHS.batch] = {
    post: {
      operationId: '_batch', tags: ['_batch'], summary: 'Several calls in one transaction',
      description: 'Runs every call in order in ONE transaction on one database: all commit or none. A failing call '
        + 'answers its error with `details.index` (0-based) and `details.action`; calls on different databases are refused (400).',
      parameters: [REQUEST_TIMEOUT],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: {
          type: 'object', additionalProperties: false, required: ['calls'],
          properties: { calls: { type: 'array', minItems: 1, items: {
            type: 'object', additionalProperties: false, required: ['action'],
            properties: { action: { type: 'string', enum: modules.flatMap((m) => m.actions.map((a) => a.id)) }, params: { type: 'object' } },
          } } },
        } } },
      },
      responses: {
        200: { description: 'The results, in call order', content: { 'application/json': { schema: {
          type: 'object', required: ['results'], properties: { results: { type: 'array' } },
        } } } },
        ...errors,
      },
    },
  };
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    tags: modules.map((m) => ({ name: m.name, ...(m.description ? { description: m.description } : {}) })),
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object', required: ['error'],
          properties: {
            error: {
              type: 'object', required: ['code', 'message', 'requestId'],
              properties: {
                code: { type: 'string', enum: Object.keys(ERRORS) },
                message: { type: 'string' },
                requestId: { type: 'string' },
                details: { description: 'Where useful: the failing fields of invalid_params ({ path, message }[]), or the failing call of a batch' },
              },
            },
          },
        },
      },
    },
  };
}
