// Integrations, part of the partner aggregate: create / list under a partner, read, revoke.
// Writes lock the partner row first; If-Match and ETag are the partner's version.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { createIntegration, revokeIntegration } from '@relevo/domain';
import { findIntegration, findPartner, insertIntegration, listIntegrations, saveIntegration, savePartner } from '@relevo/db';
import type { AppDeps, AppEnv } from '../context.ts';
import { decodeCursor, encodeCursor, uuidv7 } from '../ids.ts';
import { NotFoundError, ValidationError } from '../problems.ts';
import {
  CreateIntegrationBody, IdParams, IntegrationPage, IntegrationSchema, PageQuery, RevokeIntegrationBody, WriteHeaders,
} from '../schemas.ts';
import { etag, lockPartnerForWrite, type UnitOfWork } from '../unit-of-work.ts';
import { PROBLEM_RESPONSES, SECURITY, WRITE_PROBLEM_RESPONSES, idempotentWriteRequest, integrationDto, send } from './common.ts';
import type { Hook } from './hook.ts';

const json = <S>(schema: S) => ({ 'application/json': { schema } });
const integrationResponse = (description: string) => ({
  description,
  headers: { ETag: { schema: { type: 'string' as const }, description: 'the partner version, quoted' } },
  content: json(IntegrationSchema),
});
const tags = ['integrations'];

export const createIntegrationRoute = createRoute({
  method: 'post', path: '/partners/{id}/integrations', tags, security: SECURITY.write,
  summary: 'Create an integration for a partner (emits IntegracionCreada; bumps the partner version)',
  request: { params: IdParams, headers: WriteHeaders, body: { required: true, content: json(CreateIntegrationBody) } },
  responses: { 201: integrationResponse('the new integration'), ...WRITE_PROBLEM_RESPONSES },
});

export const listIntegrationsRoute = createRoute({
  method: 'get', path: '/partners/{id}/integrations', tags, security: SECURITY.read, summary: "List a partner's integrations, cursor-paged",
  request: { params: IdParams, query: PageQuery },
  responses: { 200: { description: 'one page of integrations', content: json(IntegrationPage) }, ...PROBLEM_RESPONSES },
});

export const getIntegrationRoute = createRoute({
  method: 'get', path: '/integrations/{id}', tags, security: SECURITY.read, summary: 'Read an integration',
  request: { params: IdParams },
  responses: { 200: integrationResponse('the integration'), ...PROBLEM_RESPONSES },
});

export const revokeIntegrationRoute = createRoute({
  method: 'post', path: '/integrations/{id}/revoke', tags, security: SECURITY.write,
  summary: 'Revoke an integration (emits IntegracionRevocada; bumps the partner version)',
  request: { params: IdParams, headers: WriteHeaders, body: { required: true, content: json(RevokeIntegrationBody) } },
  responses: { 200: integrationResponse('the revoked integration'), ...WRITE_PROBLEM_RESPONSES },
});

export function integrationRoutes(deps: AppDeps, uow: UnitOfWork, defaultHook: Hook): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook });

  app.openapi(createIntegrationRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const reply = await uow.run(idempotentWriteRequest(c, body), async (tx, now, sendWithCommit) => {
      const partner = await lockPartnerForWrite(tx, id, c.req.valid('header')['if-match']);
      const { state, events } = createIntegration(partner, uuidv7(now), body, now);
      sendWithCommit(savePartner(tx, state.partner));
      sendWithCommit(insertIntegration(tx, state.integration));
      return {
        status: 201,
        body: integrationDto(state.integration, state.partner.version),
        version: state.partner.version,
        location: `/v1/integrations/${state.integration.id}`,
        events,
      };
    });
    return send(c, reply);
  });

  app.openapi(listIntegrationsRoute, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (after === null) throw new ValidationError([{ path: 'query.cursor', message: 'not a cursor this API gave out' }]);
    const partner = await findPartner(deps.database.sql, id);
    if (!partner) throw new NotFoundError('partner', id);
    const rows = await listIntegrations(deps.database.sql, id, { ...(after ? { after } : {}), limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    const next = rows.length > q.limit ? encodeCursor(page[page.length - 1]!.id) : null;
    return c.json(
      { items: page.map((i) => integrationDto(i, partner.version)), version: partner.version, next_cursor: next },
      200,
      { ETag: etag(partner.version) },
    );
  });

  app.openapi(getIntegrationRoute, async (c) => {
    const { id } = c.req.valid('param');
    const integration = await findIntegration(deps.database.sql, id);
    if (!integration) throw new NotFoundError('integration', id);
    const partner = await findPartner(deps.database.sql, integration.partner_id);
    if (!partner) throw new NotFoundError('integration', id);
    return c.json(integrationDto(integration, partner.version), 200, { ETag: etag(partner.version) });
  });

  app.openapi(revokeIntegrationRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const reply = await uow.run(idempotentWriteRequest(c, body), async (tx, now, sendWithCommit) => {
      const seen = await findIntegration(tx, id);
      if (!seen) throw new NotFoundError('integration', id);
      const partner = await lockPartnerForWrite(tx, seen.partner_id, c.req.valid('header')['if-match']);
      // Re-read under the partner lock: every integration write holds it, so this is current.
      const integration = (await findIntegration(tx, id))!;
      const { state, events } = revokeIntegration(partner, integration, body.motivo, now);
      sendWithCommit(savePartner(tx, state.partner));
      sendWithCommit(saveIntegration(tx, state.integration));
      return { status: 200, body: integrationDto(state.integration, state.partner.version), version: state.partner.version, events };
    });
    return send(c, reply);
  });

  return app;
}
