// The consumers' ops server is the one every relevo process uses.
export { startOpsServer, type OpsServerOptions } from '@relevo/runtime';
