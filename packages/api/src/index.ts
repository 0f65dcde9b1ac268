export { createApp, type App, type AppDeps } from './app.ts';
export { parseApiTokens, type ApiToken } from './auth.ts';
export { runApiProcess } from './main.ts';
export * from './problems.ts';
