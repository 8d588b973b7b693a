/** Where the console lives (docs/console.md): next to the admin API, before the API-key chain. */

/** Every path under this prefix belongs to the console (unknown ones answer its 404 page). */
export const CONSOLE_MOUNT = "/__spot/console";
/** The stylesheet and the script, served by the Worker itself (no CDN). */
export const CONSOLE_CSS_PATH = `${CONSOLE_MOUNT}/assets/console.css`;
export const CONSOLE_JS_PATH = `${CONSOLE_MOUNT}/assets/console.js`;
/** The cookie of a local sign-in (never set in production: local sign-in is off there). */
export const SESSION_COOKIE = "spot_console_session";
/** The hidden form field carrying the CSRF token. */
export const CSRF_FIELD = "csrf";

/** A console path for an account's keys. */
export const keysPath = (accountId: string): string => `${CONSOLE_MOUNT}/accounts/${encodeURIComponent(accountId)}/keys`;
/** A console path for one key (its edit, revoke and roll pages). */
export const keyPath = (accountId: string, keyId: string): string => `${keysPath(accountId)}/${encodeURIComponent(keyId)}`;
