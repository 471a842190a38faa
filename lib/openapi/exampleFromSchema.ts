// A plausible value for a JSON Schema (from zod), for an action's OpenAPI example when the action declares none.
// The caller checks it against the zod schema and drops it when it does not parse: it is a guess, never trusted.
type JsonSchema = Record<string, any>;

const BY_FORMAT: Record<string, string> = {
  email: 'ann@example.com',
  uuid: '00000000-0000-4000-8000-000000000000',
  'date-time': '2024-01-01T00:00:00.000Z',
  date: '2024-01-01',
  time: '00:00:00',
  uri: 'https://example.com',
  url: 'https://example.com',
  ipv4: '127.0.0.1',
  ipv6: '::1',
};

/** `optional`: also give the optional properties of objects (else only the required ones). */
export function exampleFromSchema(schema: JsonSchema, optional: boolean, depth = 0): unknown {
  if (depth > 8 || !schema || typeof schema !== 'object') return null;
  if ('const' in schema) return schema.const;
  if ('default' in schema) return schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const choice = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(choice)) {
    const notNull = choice.find((s: JsonSchema) => s?.type !== 'null') ?? choice[0];
    return exampleFromSchema(notNull, optional, depth + 1);
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) return exampleFromSchema(schema.allOf[0], optional, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const required = new Set<string>(schema.required ?? []);
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries<JsonSchema>(schema.properties ?? {})) {
        if (optional || required.has(key)) out[key] = exampleFromSchema(sub, optional, depth + 1);
      }
      return out;
    }
    case 'array': {
      const n = Math.max(schema.minItems ?? 0, optional ? 1 : 0);
      return Array.from({ length: Math.min(n, 3) }, () => exampleFromSchema(schema.items ?? {}, optional, depth + 1));
    }
    case 'string': {
      const value = BY_FORMAT[schema.format] ?? 'text';
      const min = schema.minLength ?? 0;
      const max = schema.maxLength ?? Infinity;
      return value.length < min ? value.padEnd(min, 'x') : value.length > max ? value.slice(0, max) : value;
    }
    case 'integer':
    case 'number': {
      let n = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : type === 'integer' ? 1 : 1);
      if (schema.maximum !== undefined && n > schema.maximum) n = schema.maximum;
      if (schema.multipleOf) n = Math.ceil(n / schema.multipleOf) * schema.multipleOf;
      return n;
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return null;
  }
}
