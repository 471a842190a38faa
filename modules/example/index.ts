// The example module: the original dbapi skeleton's three actions.
import { z } from 'zod';
import { action } from '#dbapi';
import { upsertUser } from './sql';

const person = z.object({
  name: z.string().min(1).max(200),
  email: z.email().max(320).optional(),
});

export const description = 'The original dbapi skeleton: what callers and tests use first.';

export default {
  '': action({
    database: false,
    result: z.literal(true),
    handler: () => true as const,
  }),

  foo: action({
    description: 'Echoes the name and email with the time; no database work.',
    params: person,
    example: { name: 'ann', email: 'ann@example.com' },
    database: false, // no database work: no connection is taken, no transaction opened
    result: z.object({ name: z.string(), email: z.string().nullable(), time: z.iso.datetime() }),
    handler: ({ params }) => ({ name: params.name, email: params.email ?? null, time: new Date().toISOString() }),
  }),

  bar: action({
    description: 'Upserts the user with this name (setting the email) and answers the rows with that name.',
    params: person,
    example: { name: 'ann', email: 'ann@example.com' },
    result: z.array(z.object({ name: z.string(), email: z.string().nullable() })),
    handler: ({ params, tx }) => upsertUser(tx, params.name, params.email ?? null),
  }),
};
