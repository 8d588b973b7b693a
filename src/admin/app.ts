/**
 * The admin API (docs/admin-api.md), mounted by src/app.ts at {@link ADMIN_MOUNT} before the
 * API-key chain: nothing under that prefix is ever proxied upstream or authenticated with an API key.
 *
 *   adminAudit → refuseApiKeys (src/admin/middleware.ts)
 *     → per route: action → requireAdmin(read|write) → zod validation → handler
 *
 * One file per resource: src/admin/routes/keys.ts (key lifecycle), routes/accounts.ts (suspend and
 * resume), routes/audit.ts (audit searches); their request and answer schemas in src/admin/schemas.ts.
 * Routes are @hono/zod-openapi routes, so the served OpenAPI document ({@link OPENAPI_PATH}) is
 * generated from the same zod schemas that validate the requests.
 */
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type * as z from "zod";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { WRITE_PERMISSION } from "./auth";
import { action, adminAudit, adminOnError, refuseApiKeys, validationHook } from "./middleware";
import { ADMIN_MOUNT, OPENAPI_PATH } from "./paths";
import { registerAccountRoutes } from "./routes/accounts";
import { registerAuditRoutes } from "./routes/audit";
import { registerKeyRoutes } from "./routes/keys";
import { ErrorResponse, OpenApiDocumentResponse } from "./schemas";

export { ADMIN_MOUNT, ADMIN_PREFIX, OPENAPI_PATH } from "./paths";

const openApiRoute = createRoute({
  method: "get",
  path: OPENAPI_PATH.slice(ADMIN_MOUNT.length),
  operationId: "getOpenApiDocument",
  summary: "This OpenAPI document",
  description:
    "The OpenAPI 3.0 document of the admin API, as committed in docs/admin-openapi.json. No token needed; " +
    "API-key headers are refused here too. Recorded as an admin event (`openapi.get`).",
  security: [],
  middleware: [action("openapi.get")] as const,
  responses: {
    200: { description: "The document.", content: { "application/json": { schema: OpenApiDocumentResponse } } },
    401: {
      description: "API-key headers sent (`api_key_not_accepted`).",
      content: { "application/json": { schema: ErrorResponse } },
    },
    503: {
      description: "`internal_error`: the document could not be built.",
      content: { "application/json": { schema: ErrorResponse } },
    },
  },
});

/** The admin API as a Hono app; mount it at {@link ADMIN_MOUNT}. */
export function createAdminApp(): OpenAPIHono<AppEnv> {
  const admin = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  admin.use(adminAudit);
  admin.use(refuseApiKeys);
  registerKeyRoutes(admin);
  registerAccountRoutes(admin);
  registerAuditRoutes(admin);

  admin.openAPIRegistry.registerComponent("securitySchemes", "adminBearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: `A JWT verified against the configured JWKS (issuer, audience and algorithms pinned). Writes need "${WRITE_PERMISSION}" in the permissions claim, or the token's email, group or Cloudflare Access service token in the admin writer lists. Without an Authorization header, the Cf-Access-Jwt-Assertion header Cloudflare Access adds is accepted for an Access service token.`,
  });

  // Built on the first request, once every route above is registered.
  let document: z.infer<typeof OpenApiDocumentResponse> | null = null;
  admin.openapi(openApiRoute, (c) => {
    document ??= adminOpenApiDocument(admin);
    return c.json(document, 200);
  });

  // Everything else under the prefix: the admin 404, never the API-key chain.
  admin.all("*", () => {
    throw new ApiError("not_found", "No such admin route. The admin API is described at GET /__spot/admin/v1/openapi.json.");
  });
  admin.onError(adminOnError);
  return admin;
}

/** The OpenAPI 3.0 document of the admin API, with full paths (docs/admin-openapi.json is this, committed). */
export function adminOpenApiDocument(admin: OpenAPIHono<AppEnv> = createAdminApp()): z.infer<typeof OpenApiDocumentResponse> {
  const doc = admin.getOpenAPIDocument({
    openapi: "3.0.3",
    info: {
      title: "Spot Thought edge authorizer: admin API",
      version: "1.0.0",
      description:
        "Key lifecycle and audit trail search for the edge authorizer (docs/admin-api.md, docs/audit.md). " +
        "Every error uses the authorizer's JSON envelope (docs/errors.md). Secrets are returned only by create and rotate, exactly once. " +
        "Any other path or method under /__spot/admin answers 404 `not_found`.",
    },
    servers: [{ url: "https://api.spot-thought.com" }, { url: "http://127.0.0.1:8787", description: "npm start" }],
  });
  const paths: Record<string, unknown> = {};
  for (const [path, item] of Object.entries(doc.paths ?? {})) paths[`${ADMIN_MOUNT}${path}`] = item;
  return { ...doc, paths };
}
