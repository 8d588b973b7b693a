/**
 * What `import … from "zod"` resolves to in the Worker bundle (wrangler.toml `[alias]`; typecheck,
 * tests and scripts see zod itself): every export of zod, except that the `z` object is only what
 * @hono/zod-openapi needs of it.
 *
 * Why: esbuild cannot tree-shake a namespace object once it is used as a value, and @hono/zod-openapi
 * imports `{ z }` from zod and passes it to `extendZodWithOpenApi(z)` (which patches
 * `z.ZodType.prototype`). That one value pulled all of zod into the bundle: ~60 locales, the JIT
 * compiler, JSON Schema import (about 350 KB, 60 KiB gzip; docs/benchmark.md "Bundle and cold
 * start"). Our own modules import zod as a namespace (`import * as z from "zod"`, enforced by biome's
 * noRestrictedImports), which esbuild shakes to the parts they use.
 *
 * Nothing of ours may use the `z` value of "zod" or of "@hono/zod-openapi" (biome refuses it): in the
 * bundle it has nothing but `ZodType`.
 */
import { ZodType } from "zod/v4";

export * from "zod/v4";
export const z = { ZodType };
