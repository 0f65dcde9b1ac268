// Read-only: the alliance events (external topic gestion-de-alianzas) that `relevo consumers`
// recorded against a partner, oldest first, cursor-paged.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { findPartner, listPartnerAllianceEvents } from '@relevo/db';
import type { AppDeps, AppEnv } from '../context.ts';
import { NotFoundError, ValidationError } from '../problems.ts';
import { IdParams, MAX_BIGINT, PageQuery } from '../schemas.ts';
import { PROBLEM_RESPONSES, SECURITY } from './common.ts';
import type { Hook } from './hook.ts';

const timestamp = z.string().openapi({ format: 'date-time' });

export const AllianceEventSchema = z.object({
  event_id: z.string().openapi({ description: 'the CloudEvent id given by gestion-de-alianzas' }),
  type: z.string().openapi({ example: 'AlianzaCreada' }),
  alianza_id: z.string().nullable(),
  data: z.record(z.string(), z.unknown()).openapi({ description: 'the event data as its producer wrote it' }),
  occurred_at: timestamp,
  received_at: timestamp,
}).openapi('AllianceEvent');

export const AllianceEventPage = z.object({
  items: z.array(AllianceEventSchema),
  next_cursor: z.string().nullable(),
}).openapi('AllianceEventPage');

export const listAllianceEventsRoute = createRoute({
  method: 'get', path: '/partners/{id}/alliances', tags: ['alliances'], security: SECURITY.read,
  summary: "A partner's alliance events from gestion-de-alianzas, oldest first, cursor-paged",
  request: { params: IdParams, query: PageQuery },
  responses: { 200: { description: 'one page of alliance events', content: { 'application/json': { schema: AllianceEventPage } } }, ...PROBLEM_RESPONSES },
});

const encode = (id: bigint) => Buffer.from(`alliance:${id}`, 'utf8').toString('base64url');
/** The id a cursor names; null for anything this API did not give out, an id past bigint's range included. */
function decode(cursor: string): bigint | null {
  const m = /^alliance:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const id = m ? BigInt(m[1]!) : null;
  return id !== null && id <= MAX_BIGINT ? id : null;
}

export function allianceRoutes(deps: AppDeps, defaultHook: Hook): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook });
  app.openapi(listAllianceEventsRoute, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const after = q.cursor === undefined ? undefined : decode(q.cursor);
    if (after === null) throw new ValidationError([{ path: 'query.cursor', message: 'not a cursor this API gave out' }]);
    const partner = await findPartner(deps.database.sql, id);
    if (!partner) throw new NotFoundError('partner', id);
    const rows = await listPartnerAllianceEvents(deps.database.sql, id, { ...(after !== undefined ? { after } : {}), limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    return c.json({
      items: page.map((r) => ({
        event_id: r.event_id, type: r.event_type, alianza_id: r.alianza_id, data: r.data,
        occurred_at: r.occurred_at.toISOString(), received_at: r.received_at.toISOString(),
      })),
      next_cursor: rows.length > q.limit ? encode(page[page.length - 1]!.id) : null,
    }, 200);
  });
  return app;
}
