// The public endpoints: no token needed, no database needed for the documents.
import { describe, expect, it } from 'vitest';
import { connectDatabase } from '@relevo/db';
import { createLogger } from '@relevo/runtime';
import { createApp } from '../src/index.ts';
import { PRINCIPAL_SECRET, TOKENS } from './support/tokens.ts';

// Never queried by these tests: the documents and liveness do not touch the database.
const database = connectDatabase('postgres://postgres@127.0.0.1:1/unused', { max: 1 });
const app = createApp({ database, tokens: TOKENS, principalSecret: PRINCIPAL_SECRET, log: createLogger('api-test', 'silent') });

const OPERATIONS = [
  ['post', '/v1/partners'],
  ['get', '/v1/partners'],
  ['get', '/v1/partners/{id}'],
  ['patch', '/v1/partners/{id}'],
  ['delete', '/v1/partners/{id}'],
  ['post', '/v1/partners/{id}/kyc'],
  ['post', '/v1/partners/{id}/integrations'],
  ['get', '/v1/partners/{id}/integrations'],
  ['get', '/v1/integrations/{id}'],
  ['post', '/v1/integrations/{id}/revoke'],
  ['get', '/health/live'],
  ['get', '/health/ready'],
] as const;

describe('public endpoints', () => {
  it('/openapi.json is generated from the route schemas', async () => {
    const res = await app.request('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    for (const [method, path] of OPERATIONS) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.CreatePartner).toMatchObject({ required: ['nombre', 'email'], additionalProperties: false });
    expect(doc.paths['/v1/partners'].post.security).toEqual([{ bearerAuth: ['write'] }]);
    expect(doc.paths['/health/live'].get.security).toBeUndefined();
    const headerParams = doc.paths['/v1/partners/{id}/kyc'].post.parameters.filter((p: { in: string }) => p.in === 'header').map((p: { name: string }) => p.name);
    expect(headerParams.sort()).toEqual(['idempotency-key', 'if-match']);
  });

  it('/docs renders every operation server-side, with no external resources', async () => {
    const res = await app.request('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    for (const [method, path] of OPERATIONS) expect(html).toContain(`<code class="m ${method}">${method.toUpperCase()}</code></td><td><code>${path}</code>`);
    expect(html).not.toMatch(/<script|<link|https?:\/\//i);
  });

  it('/health/live needs no token', async () => {
    expect((await app.request('/health/live')).status).toBe(200);
  });
});
