/**
 * Admin API request and response schemas (zod, with OpenAPI metadata for @hono/zod-openapi):
 * what the routes validate is exactly what the OpenAPI document says (docs/admin-api.md).
 * Request bodies are strict objects: an unknown field is a 400 naming it.
 */
// Installs `.openapi()` on every zod schema, before the schemas below use it.
import "@hono/zod-openapi";
import * as z from "zod";
import { ACTOR_MAX_CHARS, ADMIN_ACTIONS, AdminAuditEventSchema } from "../audit/admin-event";
import { AuditEventSchema, FORGED_HEADER_MAX_CHARS, FORGED_HEADERS_MAX_ENTRIES, ID_MAX_CHARS, REASON_MAX_CHARS } from "../audit/event";
import { DEFAULT_PAGE_SIZE, MAX_CURSOR_CHARS, MAX_PAGE_SIZE, MAX_UNKEYED_WINDOW_MS, WOULD_REFUSE_ANY } from "../audit/query";
import { parseAddress } from "../client-ip/forwarded";
import { ERROR_CODES, type ErrorCode } from "../errors";
import { API_KEY_PATTERN, API_SECRET_PATTERN } from "../keys/format";
import { isRateLimitTier, MAX_ALLOWLIST_ENTRIES, MAX_CIDR_CHARS, normalizeCidr, RATE_LIMIT_TIERS_PER_MINUTE } from "../keys/policy";
import { WOULD_REFUSE_CODES } from "../request-path/would-refuse";
import { LABEL_NORMALIZATION_FORM, labelCharacterProblem } from "./label";
import { DEFAULT_OVERLAP_SECONDS, KEY_ID_PATTERN, LABEL_MAX_CHARS, MAX_EXPIRES_AHEAD_DAYS, MAX_OVERLAP_SECONDS } from "./model";

const AccountId = z
  .string()
  .regex(API_KEY_PATTERN, "must be acct_ followed by 1 to 64 ASCII letters or digits")
  .openapi({
    param: { name: "account_id", in: "path" },
    description: "The account (its API key, `X-Spot-Api-Key`): `acct_` and 1 to 64 ASCII letters or digits.",
    example: "acct_42",
  });
const KeyId = z
  .string()
  .regex(KEY_ID_PATTERN, "must be key_ followed by 1 to 64 ASCII letters or digits")
  .openapi({
    param: { name: "key_id", in: "path" },
    description: "A key of that account: `key_` and 1 to 64 ASCII letters or digits.",
    example: "key_4fGh8KqP2mZx9TbN",
  });

export const AccountParams = z.object({ account_id: AccountId });
export const KeyParams = z.object({ account_id: AccountId, key_id: KeyId });

const Instant = z.iso.datetime({ message: "must be an ISO 8601 UTC instant such as 2027-01-31T00:00:00Z" });
const LABEL_RULE =
  `For people: 1 to ${LABEL_MAX_CHARS} characters (UTF-16 code units) after Unicode NFC normalisation, the form it is stored in; ` +
  "no control (C0, DEL, C1), format (bidi controls of Unicode TR9, zero-width characters), other default-ignorable, " +
  "line/paragraph separator or unpaired surrogate code points (400 naming the first, e.g. U+202E).";

/**
 * A key label (src/admin/label.ts): refused when it holds a control, format (bidi, zero-width),
 * default-ignorable, line/paragraph separator or surrogate code point (400 naming the first, e.g.
 * "must not contain U+202E"); accepted ones become NFC, and the length bound applies to that form.
 */
const Label = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    const problem = labelCharacterProblem(value);
    if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
  })
  .normalize(LABEL_NORMALIZATION_FORM)
  .max(LABEL_MAX_CHARS)
  .nullable()
  .openapi({ description: `${LABEL_RULE} null for none.`, example: "billing service" });
const ExpiresAt = Instant.nullable().openapi({
  description:
    `From this instant on the key answers 401. Must be in the future and at most ${MAX_EXPIRES_AHEAD_DAYS} days (about 10 years) ` +
    "from now (400 invalid_body otherwise); null or omitted: no expiry.",
  example: "2027-01-31T00:00:00Z",
});

const Cidr = z
  .string()
  .superRefine((value, ctx) => {
    const result = normalizeCidr(value);
    if (!result.ok) ctx.addIssue({ code: "custom", message: `${JSON.stringify(value.slice(0, MAX_CIDR_CHARS))} ${result.reason}` });
  })
  .openapi({ example: "203.0.113.0/24" });

const IpAllowlist = z
  .array(Cidr)
  .min(1, "must list at least one range (send null to remove the allowlist)")
  .max(MAX_ALLOWLIST_ENTRIES)
  .nullable()
  .openapi({
    description:
      `IPv4/IPv6 CIDR ranges (or single addresses) the key may be used from, at most ${MAX_ALLOWLIST_ENTRIES}; matched against the ` +
      "connecting IP (CF-Connecting-IP), never X-Forwarded-For; a request from elsewhere gets 403 ip_not_allowed. Stored in normal " +
      "form (RFC 5952 for IPv6), duplicates dropped; host bits below the prefix are refused. null: no allowlist.",
    example: ["203.0.113.0/24", "2001:db8::/32"],
  });

const RateLimitPerMinute = z
  .number()
  .refine((n: number): boolean => isRateLimitTier(n), `must be one of ${RATE_LIMIT_TIERS_PER_MINUTE.join(", ")}`)
  .nullable()
  .openapi({
    // No `type` here: a type given in .openapi() replaces the generated schema, `nullable` included.
    // OpenAPI 3.0: null is valid only when the enum lists it too.
    enum: [...RATE_LIMIT_TIERS_PER_MINUTE, null],
    description:
      `Requests per minute for this key, one of the tiers ${RATE_LIMIT_TIERS_PER_MINUTE.join(", ")}; counted per Cloudflare location ` +
      "and approximate; over it: 429 rate_limited. null: the default (KEY_RATE_LIMIT_PER_MINUTE).",
    example: 600,
  });

/** A policy in a request body: every field optional (absent: unchanged on update, unset on create); null removes. */
export const PolicyBody = z
  .strictObject({ ip_allowlist: IpAllowlist.optional(), rate_limit_per_minute: RateLimitPerMinute.optional() })
  .openapi("KeyPolicyRequest", { description: 'The key\'s policy (docs/storage.md "Key policy").' });

export const CreateKeyBody = z
  .strictObject({
    mode: z.enum(["live", "test"]).default("live").openapi({ description: "`sk_live_` or `sk_test_` secret; default live." }),
    label: Label.optional(),
    expires_at: ExpiresAt.optional(),
    policy: PolicyBody.optional(),
  })
  .openapi("CreateKeyRequest");

export const UpdateKeyBody = z
  .strictObject({
    label: Label.optional().openapi({ description: `New label; null removes it; omitted: unchanged. ${LABEL_RULE}` }),
    expires_at: ExpiresAt.optional().openapi({
      description:
        `New expiry: in the future and at most ${MAX_EXPIRES_AHEAD_DAYS} days (about 10 years) from now (400 invalid_body ` +
        "otherwise); null removes it (no expiry); omitted: unchanged. Only for a key neither revoked nor expired (409 " +
        "key_revoked / key_expired). Published to the revocation feed: an earlier end is enforced everywhere within seconds.",
    }),
    policy: PolicyBody.optional().openapi({
      description: "Policy fields to change: an omitted field stays as it is, null removes it (no allowlist; the default rate limit).",
    }),
  })
  .refine(
    (body) => body.label !== undefined || body.expires_at !== undefined || body.policy !== undefined,
    "must change label, expires_at or policy",
  )
  .openapi("UpdateKeyRequest");

export const ImportKeyBody = z
  .strictObject({
    secret: z
      .string()
      .regex(API_SECRET_PATTERN, "must be sk_live_ or sk_test_ followed by 4 to 128 ASCII letters or digits")
      .openapi({
        description:
          "The existing secret to register (its mode comes from its prefix). Stored only as its HMAC; never returned. " +
          "A secret whose part after the prefix has exactly 39 characters must carry a valid checksum (docs/storage.md).",
        example: "sk_live_abcd",
      }),
    label: Label.optional(),
    expires_at: ExpiresAt.optional(),
    policy: PolicyBody.optional(),
  })
  .openapi("ImportKeyRequest");

export const RotateKeyBody = z
  .strictObject({
    overlap_seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_OVERLAP_SECONDS)
      .default(DEFAULT_OVERLAP_SECONDS)
      .openapi({
        description: `Seconds the old secret keeps working (default ${DEFAULT_OVERLAP_SECONDS}, 24 h; 0 = it ends now; at most ${MAX_OVERLAP_SECONDS}, 30 days), never beyond the old key's own expiry.`,
      }),
    expires_at: ExpiresAt.optional().openapi({
      description: `Expiry of the new key, in the future and at most ${MAX_EXPIRES_AHEAD_DAYS} days from now; null or omitted: no expiry.`,
    }),
    label: Label.optional().openapi({ description: `Label of the new key; omitted: the old key's label. ${LABEL_RULE}` }),
  })
  .openapi("RotateKeyRequest");

export const RevokeKeyBody = z.strictObject({}).openapi("RevokeKeyRequest");
export const AccountStateBody = z.strictObject({}).openapi("AccountStateRequest");

const Policy = z
  .object({
    // Not z.null(): OpenAPI 3.0 has no null type, and z.null() becomes a bare `nullable: true` (no `type`),
    // which linters and Ajv-based validators refuse. A null literal is `nullable` with a type and `enum: [null]`.
    scopes: z.literal(null).openapi({ description: "Reserved for later: always null, not enforced." }),
    ip_allowlist: z.array(z.string()).nullable().openapi({ description: "Normalised CIDR ranges; null: any address." }),
    rate_limit_per_minute: z.number().int().nullable().openapi({ description: "Requests per minute; null: the default." }),
  })
  .nullable()
  .openapi({ description: "The key's policy, enforced at the edge; null when neither an allowlist nor a rate limit is set." });

export const KeySchema = z
  .object({
    key_id: z.string().openapi({ example: "key_4fGh8KqP2mZx9TbN" }),
    account_id: z.string().openapi({ example: "acct_42" }),
    mode: z.enum(["live", "test"]),
    label: z
      .string()
      .nullable()
      .openapi({
        description:
          "In NFC and free of the refused characters when written since that rule (see the request bodies); a label stored " +
          "before it is returned as stored, so a client that shows it should still escape such characters.",
      }),
    status: z.enum(["active", "expired", "revoked", "sync_failed"]).openapi({
      description:
        "expired: `expires_at` has passed. sync_failed: neither revoked nor expired, but its lookup record could not be written to " +
        'Workers KV (refused for good, `kv_sync: "failed"`), so it does not authenticate; revoke it and create another key.',
    }),
    created_at: z.string().openapi({ format: "date-time" }),
    expires_at: z.string().nullable().openapi({ format: "date-time" }),
    revoked_at: z.string().nullable().openapi({ format: "date-time" }),
    secret_hint: z
      .string()
      .nullable()
      .openapi({ description: "Last 4 characters of the secret; null when the secret is too short to show any of it.", example: "Qx3k" }),
    secret_format: z.enum(["checksum", "legacy"]),
    source: z.enum(["generated", "imported"]),
    hash_key_id: z.string().openapi({ description: "Id of the HMAC key that hashed the secret (SECRET_HASH_KEY_ID)." }),
    replaces_key_id: z.string().nullable().openapi({ description: "The key this one replaced by rotation." }),
    replaced_by_key_id: z.string().nullable().openapi({ description: "The key that replaced this one by rotation." }),
    rotated_at: z.string().nullable().openapi({ format: "date-time" }),
    created_by: z.string().openapi({ description: "`sub` of the admin token that created the key." }),
    policy: Policy,
    last_used_at: z
      .string()
      .nullable()
      .optional()
      .openapi({
        format: "date-time",
        description:
          'When the key last authenticated a request that was forwarded upstream (docs/audit.md "Last used"), kept by the audit ' +
          "consumer a few seconds after the request; null: never used since last-use tracking began. Only in list and show " +
          "answers, and absent there when the audit trail (D1) cannot be read: unknown, not never.",
      }),
    last_used_ip: z.string().nullable().optional().openapi({
      description: "The connecting IP (CF-Connecting-IP) of that request; null when never used or when it had none.",
    }),
    kv_sync: z.enum(["synced", "pending", "failed"]).openapi({
      description:
        "The key's lookup record in Workers KV (what the edge reads): synced = written; pending = a write still being retried " +
        "(with backoff, until it lands); failed = KV refused it for good, it is not retried and the older record was deleted, " +
        "so the key does not authenticate (a later change of the key tries again).",
    }),
  })
  .openapi("Key");

const KvSynced = z.boolean().openapi({
  description:
    "True when the lookup records of the keys in this answer were written to Workers KV before it; false otherwise: the change is " +
    'committed, and `kv_sync` of each key says whether its write is still being retried ("pending": it will reach KV, the ' +
    'revocation bound counts from then) or was refused for good ("failed").',
});
const RevocationPublished = z.boolean().openapi({
  description:
    'True when every "stop accepting" change about the keys in this answer (for suspend and resume: about the account) is in ' +
    'the revocation feed, so every isolate refuses accordingly within 5 s of this answer (README "Revocation bound"), ' +
    "whatever KV still serves; also true when there was nothing to publish. False: the change is committed and queued, " +
    "but the feed could not be reached; it is retried with backoff (5 s … 300 s), and until it lands only the KV bound (about " +
    "90 s from the KV write) holds, not the seconds bound.",
});
const Secret = z.string().openapi({
  description: "The secret, shown exactly once: store it now. It is never shown again, logged or stored in clear.",
  example: "sk_live_3hG8…",
});

export const KeyResponse = z.object({ key: KeySchema }).openapi("KeyResponse");
const SuspendedAt = z.string().nullable().openapi({
  format: "date-time",
  description: "When the account was suspended; null: it is not suspended.",
});
export const KeyListResponse = z
  .object({
    account_id: z.string(),
    account: z
      .object({
        suspended: z.boolean().openapi({ description: "True while the account is suspended: every key of it answers 401." }),
        suspended_at: SuspendedAt,
      })
      .openapi({ description: "The account's own state." }),
    keys: z.array(KeySchema),
  })
  .openapi("KeyList");
export const CreatedKeyResponse = z
  .object({ key: KeySchema, secret: Secret, kv_synced: KvSynced, revocation_published: RevocationPublished })
  .openapi("CreatedKey");
export const ImportedKeyResponse = z
  .object({ key: KeySchema, kv_synced: KvSynced, revocation_published: RevocationPublished })
  .openapi("ImportedKey");
export const RotatedKeyResponse = z
  .object({
    key: KeySchema.openapi({ description: "The new key." }),
    previous: KeySchema.openapi({ description: "The old key, with `expires_at` at the end of the overlap." }),
    secret: Secret,
    kv_synced: KvSynced,
    revocation_published: RevocationPublished,
  })
  .openapi("RotatedKey");
export const UpdatedKeyResponse = z
  .object({
    key: KeySchema,
    changed: z.array(z.string()).openapi({
      description:
        "Fields whose value changed (`label`, `expires_at`, `policy.ip_allowlist`, `policy.rate_limit_per_minute`); empty: nothing changed.",
    }),
    kv_synced: KvSynced,
    revocation_published: RevocationPublished,
  })
  .openapi("UpdatedKey");
export const RevokedKeyResponse = z
  .object({ key: KeySchema, already_revoked: z.boolean(), kv_synced: KvSynced, revocation_published: RevocationPublished })
  .openapi("RevokedKey");
export const AccountSuspensionResponse = z
  .object({
    account_id: z.string().openapi({ example: "acct_42" }),
    suspended: z.boolean().openapi({ description: "The account's state after the operation." }),
    suspended_at: SuspendedAt,
    already: z
      .boolean()
      .openapi({ description: "True when the account already was in this state: nothing was changed, rewritten or published." }),
    keys_rewritten: z.number().int().nonnegative().openapi({
      description:
        "Keys whose lookup record in Workers KV was rewritten (v3 while suspended, v1/v2 after resume): every key of the account; 0 when `already`.",
    }),
    kv_synced: KvSynced.openapi({
      description:
        "True when the lookup records of every key of the account were written to Workers KV before this answer; false otherwise " +
        "(the list of keys says, per key, whether its write is pending or failed).",
    }),
    revocation_published: RevocationPublished,
  })
  .openapi("AccountSuspension");

// ---------------------------------------------------------------------------------------------
// Audit query (docs/audit.md "Query")

/**
 * The request ids the authorizer makes are UUIDv7s (UUIDv4s before; src/request-id.ts); this admits any id of letters,
 * digits and `.`, `_`, `:`, `-`.
 */
const REQUEST_ID_PATTERN = new RegExp(`^[A-Za-z0-9._:-]{1,${ID_MAX_CHARS}}$`);

const RequestId = z
  .string()
  .regex(REQUEST_ID_PATTERN, `must be 1 to ${ID_MAX_CHARS} letters, digits, ".", "_", ":" or "-" (an X-Request-Id)`);

/** Bracketed IPv6 (`[2001:db8::1]`) is accepted too; the value becomes the stored (normalised) form. */
function ipAddress(description: string) {
  return z
    .string()
    .transform((value, ctx) => {
      const address = parseAddress(value.replace(/^\[(.*)\]$/, "$1"));
      if (address === null) {
        ctx.addIssue({ code: "custom", message: "must be one IPv4 or IPv6 address (no port, no prefix length, no zone)" });
        return z.NEVER;
      }
      return address.ip;
    })
    .openapi({ type: "string", description, example: "203.0.113.9" });
}

const QueryInstant = (description: string) =>
  z.iso
    .datetime({ offset: true, message: "must be an ISO 8601 instant with seconds and a zone, such as 2026-11-30T14:00:00Z" })
    .openapi({ description, example: "2026-11-30T14:00:00Z" });

const Since = QueryInstant("Only events at or after this instant (inclusive). ISO 8601 with seconds and `Z` or an offset.");
const Until = QueryInstant("Only events before this instant (exclusive). Default: no upper bound.");
const Limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(MAX_PAGE_SIZE)
  .default(DEFAULT_PAGE_SIZE)
  .openapi({
    type: "integer",
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: DEFAULT_PAGE_SIZE,
    description: `Events per page, 1..${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).`,
  });
const CursorParam = z
  .string()
  .min(1)
  .max(MAX_CURSOR_CHARS)
  .openapi({ description: "The `next_cursor` of the previous page, as it was (opaque). Keep the other parameters the same." });

/** Values of the `would_refuse` search filter: `any`, or one of the codes report-only mode records. */
const WOULD_REFUSE_VALUES = [WOULD_REFUSE_ANY, ...WOULD_REFUSE_CODES] as [string, ...string[]];

/** Query of GET /audit/events. Unknown parameters are refused (a misspelt filter must not widen a search). */
export const AuditSearchQuery = z.strictObject({
  account_id: z
    .string()
    .regex(API_KEY_PATTERN, "must be acct_ followed by 1 to 64 ASCII letters or digits")
    .optional()
    .openapi({ description: "Account (`X-Spot-Api-Key`), verified or only claimed: see `account_verified`.", example: "acct_42" }),
  key_id: z
    .string()
    .regex(KEY_ID_PATTERN, "must be key_ followed by 1 to 64 ASCII letters or digits")
    .optional()
    .openapi({ description: "Key that authenticated the request.", example: "key_4fGh8KqP2mZx9TbN" }),
  request_id: RequestId.optional().openapi({ description: "The `X-Request-Id` of the response." }),
  source_ip: ipAddress("Original caller (asserted when `source_ip_asserted`): exact address, IPv4 or IPv6 in any spelling.").optional(),
  connecting_ip: ipAddress("Address that connected to Cloudflare (trusted): exact address, IPv4 or IPv6 in any spelling.").optional(),
  outcome: z
    .enum(["allowed", "denied", "error"])
    .optional()
    .openapi({
      description: `Without account_id, key_id, request_id, source_ip or connecting_ip, \`since\` is required and the range may span at most ${MAX_UNKEYED_WINDOW_MS / 3_600_000} hours.`,
    }),
  would_refuse: z
    .enum(WOULD_REFUSE_VALUES)
    .optional()
    .openapi({
      description:
        'Report-only mode (docs/operations.md "Report-only mode"): `any` for every event with a `would_refuse` code, or only the events ' +
        `of one code. Without account_id, key_id, request_id, source_ip or connecting_ip, \`since\` is required and the range may span at most ${MAX_UNKEYED_WINDOW_MS / 3_600_000} hours.`,
    }),
  since: Since.optional(),
  until: Until.optional(),
  limit: Limit,
  cursor: CursorParam.optional(),
});

export const RequestIdParams = z.object({
  request_id: RequestId.openapi({
    param: { name: "request_id", in: "path" },
    description:
      "The `X-Request-Id` of the response whose event is wanted. A UUIDv7 (what the authorizer makes) tells its time, so the archive can be " +
      "searched for it once it has left D1; a UUID is matched in lowercase.",
    example: "01a24ad9-90eb-7c3a-9b1e-0b8a3f7d2c11",
  }),
});

/** Query of GET /audit/admin-events. */
export const AdminEventSearchQuery = z.strictObject({
  account_id: z
    .string()
    .regex(API_KEY_PATTERN, "must be acct_ followed by 1 to 64 ASCII letters or digits")
    .optional()
    .openapi({ description: "Account the admin request named.", example: "acct_42" }),
  key_id: z
    .string()
    .regex(KEY_ID_PATTERN, "must be key_ followed by 1 to 64 ASCII letters or digits")
    .optional()
    .openapi({ description: "Key acted on (for create and import: the new key).", example: "key_4fGh8KqP2mZx9TbN" }),
  actor: z
    .string()
    .min(1)
    .max(ACTOR_MAX_CHARS)
    .refine((s) => ![...s].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f), "must not contain control characters")
    .optional()
    .openapi({ description: "`sub` of the admin token (`actor_sub`), exactly.", example: "ops@spot-thought.com" }),
  action: z.enum(ADMIN_ACTIONS).optional().openapi({ description: "The admin operation." }),
  since: Since.optional(),
  until: Until.optional(),
  limit: Limit,
  cursor: CursorParam.optional(),
});

const NextCursor = z
  .string()
  .nullable()
  .openapi({ description: "Pass as `cursor` (with the same other parameters) for the next page; null: this is the last page." });

export const AuditEventJson = AuditEventSchema.extend({
  forged_headers: z.array(z.string().max(FORGED_HEADER_MAX_CHARS)).max(FORGED_HEADERS_MAX_ENTRIES),
  forged_headers_count: z.number().int().nonnegative(),
  would_refuse: z.string().max(REASON_MAX_CHARS).nullable().openapi({
    description:
      "Report-only mode: the error code enforcement would have answered for this request, which was forwarded anyway; null for every other request.",
  }),
  folded_count: z
    .number()
    .int()
    .min(1)
    .optional()
    .openapi({ description: "Present only on a flood event: how many denied requests of one connecting IP it stands for." }),
}).openapi("AuditEvent", { description: "A request event as stored (docs/audit.md, schema version 1)." });

export const AdminAuditEventJson = AdminAuditEventSchema.extend({
  query: z
    .string()
    .nullable()
    .openapi({ description: "Audit searches (`audit.*`): the validated search parameters as a query string; null otherwise." }),
}).openapi("AdminAuditEvent", { description: 'An admin event as stored (docs/audit.md "Admin events").' });

export const AuditEventPage = z
  .object({ events: z.array(AuditEventJson).openapi({ description: "Newest first." }), next_cursor: NextCursor })
  .openapi("AuditEventPage");
export const AuditEventResponse = z
  .object({
    event: AuditEventJson,
    source: z.enum(["d1", "archive"]).openapi({
      description:
        "Where the event was read: `d1`, the searchable trail of recent events; `archive`, the Parquet archive in R2, for an event " +
        'that has left D1 (found through the time in its UUIDv7 request id; docs/audit.md "Past the D1 window").',
    }),
  })
  .openapi("AuditEventResponse");
export const AdminAuditEventPage = z
  .object({ events: z.array(AdminAuditEventJson).openapi({ description: "Newest first." }), next_cursor: NextCursor })
  .openapi("AdminAuditEventPage");

export const ErrorResponse = z
  .object({
    error: z.object({
      type: z.string().openapi({ example: "invalid_request_error" }),
      code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      request_id: z.string(),
      param: z.string().optional().openapi({ description: "The request field the error is about, e.g. `body.label`." }),
    }),
  })
  .openapi("Error");

/**
 * The answer of GET /openapi.json: an OpenAPI 3.0 document (this API's own, docs/admin-openapi.json).
 * Only its required top-level members are described; the rest is open (`additionalProperties: true`;
 * not z.looseObject: its catch-all becomes a bare `nullable: true`, which OpenAPI 3.0 tools refuse).
 */
export const OpenApiDocumentResponse = z
  .object({
    openapi: z
      .string()
      .regex(/^3\.0\.\d+$/)
      .openapi({ description: "OpenAPI version of the document.", example: "3.0.3" }),
    info: z.object({ title: z.string(), version: z.string() }).openapi({ additionalProperties: true }),
    paths: z
      .custom<Record<string, unknown>>((value) => typeof value === "object" && value !== null)
      .openapi({ type: "object", additionalProperties: true, description: "Every admin operation, by full path." }),
  })
  .openapi("OpenApiDocument", {
    additionalProperties: true,
    description: "An OpenAPI 3.0 document (https://spec.openapis.org/oas/v3.0.3).",
  });
