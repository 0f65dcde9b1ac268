// The validation hook every route uses: a failed zod parse becomes a 400 problem that
// names each failing field by where it was (body, params, query, headers).
import type { Context } from 'hono';
import type { ZodError } from 'zod';
import { ValidationError, fieldErrors } from '../problems.ts';

const LOCATION: Record<string, string> = { json: 'body', param: 'params', query: 'query', header: 'headers', form: 'body', cookie: 'cookies' };

export type Hook = (result: { target: string; success: boolean; error?: ZodError }, c: Context) => void;

export const validationHook: Hook = (result) => {
  if (result.success || !result.error) return;
  const location = LOCATION[result.target] ?? result.target;
  throw new ValidationError(fieldErrors(location, result.error), `invalid fields in the request ${location}`);
};
