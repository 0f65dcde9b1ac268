// One redaction for every text relevo prints about itself: configuration errors, log lines
// (the logger runs it over each serialized line), the CLI's error messages. It masks what
// reads as a credential wherever it sits in the text, so a value that reaches a message by
// an unforeseen route (a driver's error quoting its connection string, a URL in a stack)
// is masked too. It errs towards masking: a false match costs a few characters of a
// message, a miss costs a secret. Guarded by packages/runtime/test/redact.test.ts.

export const MASK = '***';

/** Characters that end a token in free text, JSON and shell-quoted values. */
const END = `\\s"'\\\\<>`;

/** An absolute URL (`scheme://…`), up to where the text around it resumes. */
const URL_WITH_SCHEME = new RegExp(`\\b([a-z][a-z0-9+.-]*:\\/\\/)([^${END}]*)`, 'gi');

/**
 * `user:password@host` without a scheme (a mistyped `postgresql//u:p@h`, a libpq-style
 * fragment). The password runs to the last `@` before a host-like character; `scheme://` is
 * URL_WITH_SCHEME's.
 */
const BARE_USERINFO = new RegExp(`(^|[${END}=(,;/])([A-Za-z0-9._~%!$&*+-]+):(?!\\/\\/)([^${END}]+)@(?=[A-Za-z0-9.\\[-])`, 'g');

/** `name=value` pairs whose name says they are secret, in a query string, a header list or free text. */
const SECRET_PAIR = /\b((?:access_|refresh_|id_|client_)?(?:token|secret|password|passwd|pwd|api[_-]?key|apikey|signature|sig|auth))=([^&\s"'\\,;#]+)/gi;

/** The same names as JSON members (`"password":"…"`), as a serialized log line holds them. */
const SECRET_MEMBER = /("(?:[\w-]*[_-])?(?:token|secret|password|passwd|api[_-]?key|apikey|authorization|cookie)"\s*:\s*")((?:[^"\\]|\\.)*)(")/gi;

/**
 * HTTP credentials: `Bearer <token>`, `Basic <base64>`. A plain lower-case word after the
 * scheme's name is prose ("bearer tokens"), not a credential.
 */
const AUTH_SCHEME = /\b([Bb]earer|BEARER|[Bb]asic|BASIC)(\s+)(?![a-z]+(?:[\s.,;:)"'\\]|$))[A-Za-z0-9._~+/=-]+/g;

/**
 * A URL's password (the user name stays: it tells which account was used) and the value
 * of every query and fragment parameter (a webhook's signature, a `token=`), names kept.
 */
function redactUrl(scheme: string, rest: string): string {
  let out = rest;
  const at = out.lastIndexOf('@');
  if (at > 0) {
    const userinfo = out.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) out = `${userinfo.slice(0, colon + 1)}${MASK}${out.slice(at)}`;
  }
  const query = out.search(/[?#]/);
  if (query >= 0) {
    out = out.slice(0, query) + out.slice(query).replace(/([?#&;][^=&#;]*)=([^&#;]*)/g, (_m, name: string) => `${name}=${MASK}`);
  }
  return scheme + out;
}

/** The text with URL passwords, secret parameters, secret JSON members and HTTP credentials masked. */
export function redact(text: string): string {
  return text
    .replace(URL_WITH_SCHEME, (_m, scheme: string, rest: string) => redactUrl(scheme, rest))
    .replace(BARE_USERINFO, (m, before: string, user: string, password: string) => (password === MASK ? m : `${before}${user}:${MASK}@`))
    .replace(SECRET_PAIR, (_m, name: string) => `${name}=${MASK}`)
    .replace(SECRET_MEMBER, (_m, open: string, _value: string, close: string) => `${open}${MASK}${close}`)
    .replace(AUTH_SCHEME, (_m, scheme: string, space: string) => `${scheme}${space}${MASK}`);
}
