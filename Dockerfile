# One image for every relevo command: `docker run relevo <command>`.
FROM node:24-slim AS deps
WORKDIR /app
RUN npm install -g pnpm@12.4.2
COPY pnpm-workspace.yaml package.json pnpm-lock.yaml ./
COPY packages ./packages
RUN pnpm install --frozen-lockfile --prod

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app /app
COPY migrations ./migrations
USER node
ENTRYPOINT ["node", "packages/cli/src/main.ts"]
