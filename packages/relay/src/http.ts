// The relay's ops server is the one every relevo process uses. Its readiness is the database
// answering: the broker is not checked (an unreachable one shows as broker_unavailable drain runs).
export { startOpsServer, type OpsServerOptions } from '@relevo/runtime';
