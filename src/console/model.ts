/** The admin API answers the console reads (src/admin/schemas.ts), and the form fields it turns into request bodies. */
import type * as z from "zod";
import type { AuditEventPage, KeyListResponse, KeySchema } from "../admin/schemas";
import { RATE_LIMIT_TIERS_PER_MINUTE } from "../keys/policy";

/** A key as the admin API shows it; `last_used_at`/`last_used_ip` are read when the API provides them. */
export type KeyView = z.infer<typeof KeySchema> & { last_used_at?: string | null; last_used_ip?: string | null };
export type KeyList = Omit<z.infer<typeof KeyListResponse>, "keys"> & { keys: KeyView[] };
export type AuditPage = z.infer<typeof AuditEventPage>;
export type AuditEventView = AuditPage["events"][number];

export const RATE_LIMIT_TIERS = RATE_LIMIT_TIERS_PER_MINUTE;
/** The overlaps offered when rolling a key: how long the old secret keeps working. */
export const OVERLAP_CHOICES: ReadonlyArray<{ seconds: number; text: string }> = [
  { seconds: 0, text: "now (the old secret stops at once)" },
  { seconds: 3600, text: "1 hour" },
  { seconds: 86_400, text: "24 hours" },
  { seconds: 259_200, text: "3 days" },
  { seconds: 604_800, text: "7 days" },
];
/** A key unused for longer than this is marked idle. */
export const IDLE_AFTER_MS = 90 * 86_400_000;

/** Form fields of a urlencoded/multipart body, as strings (a file field reads as empty). */
export type FormFields = Record<string, string>;

export function formFields(body: Record<string, unknown>): FormFields {
  const out: FormFields = {};
  for (const [name, value] of Object.entries(body)) out[name] = typeof value === "string" ? value : "";
  return out;
}

/**
 * A `datetime-local` (or date) field read as UTC, in the admin API's ISO form; other text is passed
 * on as typed (the API refuses what it cannot read, naming the field). Empty: undefined.
 */
export function instantOf(value: string | undefined): string | undefined {
  const v = value?.trim() ?? "";
  if (v === "") return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return `${v}T00:00:00Z`;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v)) return `${v}:00Z`;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(v)) return `${v}Z`;
  return v;
}

/** The allowed-IPs textarea: ranges separated by spaces, commas or new lines. */
export function rangesOf(value: string | undefined): string[] {
  return (value ?? "").split(/[\s,]+/).filter((r) => r !== "");
}

/** The rate-limit select: a tier, or "" for the default. Anything else is passed as a number (the API refuses it). */
export function rateLimitOf(value: string | undefined): number | null {
  const v = value?.trim() ?? "";
  return v === "" ? null : Number(v);
}
