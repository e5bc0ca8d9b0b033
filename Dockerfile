# mass-autoscaler as a container image, for deploy/stack.yml.
#   docker build -t mass-autoscaler:latest .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json config.ts ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Listen on all interfaces inside the container; publish the port only where it is wanted.
ENV METRICS_HOST=0.0.0.0 METRICS_PORT=9464 NODE_ENV=production
EXPOSE 9464
# Root inside the container: the Docker socket mounted from the manager belongs to root:docker.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || 9464) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/autoscaler.js"]
