/** Where the admin API lives (docs/admin-api.md): its prefix, version and OpenAPI document. */

/** Every path under this prefix belongs to the admin API (unknown ones answer the admin 404). */
export const ADMIN_MOUNT = "/__spot/admin";
/** The versioned admin API. */
export const ADMIN_PREFIX = `${ADMIN_MOUNT}/v1`;
/** The OpenAPI 3.0 document of the admin API (GET, no token needed). */
export const OPENAPI_PATH = `${ADMIN_PREFIX}/openapi.json`;
