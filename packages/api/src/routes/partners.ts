// /v1/partners: create, list (cursor-paged, filtered), read, update, delete, record KYC.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { createPartner, deletePartner, recordKyc, updatePartner } from '@relevo/domain';
import { findPartner, insertPartner, listPartners, savePartner } from '@relevo/db';
import type { AppDeps, AppEnv } from '../context.ts';
import { decodeCursor, encodeCursor, uuidv7 } from '../ids.ts';
import { NotFoundError, ValidationError } from '../problems.ts';
import {
  CreatePartnerBody, IdParams, IdempotencyHeaders, IfMatchHeaders, KycBody, ListPartnersQuery, PartnerPage,
  PartnerSchema, UpdatePartnerBody, WriteHeaders,
} from '../schemas.ts';
import { etag, lockPartnerForWrite, type UnitOfWork } from '../unit-of-work.ts';
import { PROBLEM_RESPONSES, SECURITY, WRITE_PROBLEM_RESPONSES, idempotentWriteRequest, partnerDto, send, writeRequest } from './common.ts';
import type { Hook } from './hook.ts';

const json = <S>(schema: S) => ({ 'application/json': { schema } });
const partnerResponse = (description: string) => ({
  description,
  headers: { ETag: { schema: { type: 'string' as const }, description: 'the partner version, quoted' } },
  content: json(PartnerSchema),
});

const tags = ['partners'];

export const createPartnerRoute = createRoute({
  method: 'post', path: '/partners', tags, security: SECURITY.write, summary: 'Create a partner (emits PartnerCreado)',
  request: { headers: IdempotencyHeaders, body: { required: true, content: json(CreatePartnerBody) } },
  responses: { 201: partnerResponse('the new partner'), ...WRITE_PROBLEM_RESPONSES },
});

export const listPartnersRoute = createRoute({
  method: 'get', path: '/partners', tags, security: SECURITY.read, summary: 'List live partners (also deleted ones with include_deleted=true), filtered by estado / estado_kyc, cursor-paged',
  request: { query: ListPartnersQuery },
  responses: { 200: { description: 'one page of partners', content: json(PartnerPage) }, ...PROBLEM_RESPONSES },
});

export const getPartnerRoute = createRoute({
  method: 'get', path: '/partners/{id}', tags, security: SECURITY.read, summary: 'Read a partner (a deleted one has deleted_at set)',
  request: { params: IdParams },
  responses: { 200: partnerResponse('the partner'), ...PROBLEM_RESPONSES },
});

export const updatePartnerRoute = createRoute({
  method: 'patch', path: '/partners/{id}', tags, security: SECURITY.write,
  summary: 'Change nombre / email / estado (emits PartnerActualizado; a patch that changes nothing emits nothing)',
  request: { params: IdParams, headers: IfMatchHeaders, body: { required: true, content: json(UpdatePartnerBody) } },
  responses: { 200: partnerResponse('the partner after the change'), ...WRITE_PROBLEM_RESPONSES },
});

export const deletePartnerRoute = createRoute({
  method: 'delete', path: '/partners/{id}', tags, security: SECURITY.write, summary: 'Soft-delete a partner (emits PartnerEliminado)',
  request: { params: IdParams, headers: IfMatchHeaders },
  responses: { 200: partnerResponse('the deleted partner'), ...WRITE_PROBLEM_RESPONSES },
});

export const kycRoute = createRoute({
  method: 'post', path: '/partners/{id}/kyc', tags, security: SECURITY.write,
  summary: 'Record a KYC result (emits KYCVerificado to eventos-partners and administracion-financiera-compliance)',
  request: { params: IdParams, headers: WriteHeaders, body: { required: true, content: json(KycBody) } },
  responses: { 200: partnerResponse('the partner after the KYC result'), ...WRITE_PROBLEM_RESPONSES },
});

export function partnerRoutes(deps: AppDeps, uow: UnitOfWork, defaultHook: Hook): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook });

  app.openapi(createPartnerRoute, async (c) => {
    const body = c.req.valid('json');
    const reply = await uow.run(idempotentWriteRequest(c, body), async (tx, now, sendWithCommit) => {
      const { state, events } = createPartner(uuidv7(now), body, now);
      sendWithCommit(insertPartner(tx, state));
      return { status: 201, body: partnerDto(state), version: state.version, location: `/v1/partners/${state.id}`, events };
    });
    return send(c, reply);
  });

  app.openapi(listPartnersRoute, async (c) => {
    const q = c.req.valid('query');
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (after === null) throw new ValidationError([{ path: 'query.cursor', message: 'not a cursor this API gave out' }]);
    const rows = await listPartners(deps.database.sql, {
      ...(q.estado ? { estado: q.estado } : {}),
      ...(q.estado_kyc ? { estadoKyc: q.estado_kyc } : {}),
      ...(after ? { after } : {}),
      includeDeleted: q.include_deleted,
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const next = rows.length > q.limit ? encodeCursor(page[page.length - 1]!.id) : null;
    return c.json({ items: page.map(partnerDto), next_cursor: next }, 200);
  });

  app.openapi(getPartnerRoute, async (c) => {
    const { id } = c.req.valid('param');
    const partner = await findPartner(deps.database.sql, id);
    if (!partner) throw new NotFoundError('partner', id);
    return c.json(partnerDto(partner), 200, { ETag: etag(partner.version) });
  });

  app.openapi(updatePartnerRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const reply = await uow.run(writeRequest(c), async (tx, now, sendWithCommit) => {
      const current = await lockPartnerForWrite(tx, id, c.req.valid('header')['if-match']);
      const { state, events } = updatePartner(current, body, now);
      if (events.length > 0) sendWithCommit(savePartner(tx, state));
      return { status: 200, body: partnerDto(state), version: state.version, events };
    });
    return send(c, reply);
  });

  app.openapi(deletePartnerRoute, async (c) => {
    const { id } = c.req.valid('param');
    const reply = await uow.run(writeRequest(c), async (tx, now, sendWithCommit) => {
      const current = await lockPartnerForWrite(tx, id, c.req.valid('header')['if-match']);
      const { state, events } = deletePartner(current, now);
      sendWithCommit(savePartner(tx, state));
      return { status: 200, body: partnerDto(state), version: state.version, events };
    });
    return send(c, reply);
  });

  app.openapi(kycRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const reply = await uow.run(idempotentWriteRequest(c, body), async (tx, now, sendWithCommit) => {
      const current = await lockPartnerForWrite(tx, id, c.req.valid('header')['if-match']);
      const { state, events } = recordKyc(current, body.estado_kyc, body.motivo ?? null, now);
      sendWithCommit(savePartner(tx, state));
      return { status: 200, body: partnerDto(state), version: state.version, events };
    });
    return send(c, reply);
  });

  return app;
}
