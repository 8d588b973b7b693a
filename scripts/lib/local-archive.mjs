// The audit archive of the local stack (`npm start`, `npm run soak`), read the way an analyst reads the
// real one: with DuckDB, an engine we did not write, over the Parquet objects themselves.
//
// Miniflare keeps a local R2 bucket as one file per object under .wrangler/state/v3/r2/<bucket>/blobs/,
// named by a blob id; the object keys live in its SQLite metadata (table _mf_objects: key → blob_id).
// Node's own SQLite (node:sqlite, Node ≥ 22) reads the keys, DuckDB reads the files.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { DuckDBInstance } from "@duckdb/node-api";

/** The archive's local bucket (wrangler.toml `bucket_name` of AUDIT_ARCHIVE). */
export const ARCHIVE_BUCKET = "spot-audit-archive";

/**
 * The local objects of the archive whose key starts with `prefix`.
 * @param {string} root project root
 * @param {string} prefix key prefix, e.g. `audit/v1/kind=request/`
 * @returns {{ key: string, file: string }[]} each object's key and the file holding its bytes
 */
export function localArchiveObjects(root, prefix) {
  const r2 = join(root, ".wrangler", "state", "v3", "r2");
  const blobs = join(r2, ARCHIVE_BUCKET, "blobs");
  const metadata = join(r2, "miniflare-R2BucketObject");
  if (!existsSync(blobs) || !existsSync(metadata)) return [];
  const objects = [];
  for (const name of readdirSync(metadata)) {
    if (!name.endsWith(".sqlite") || name === "metadata.sqlite") continue;
    const db = new DatabaseSync(join(metadata, name), { readOnly: true });
    try {
      const hasObjects = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_mf_objects'").get();
      if (!hasObjects) continue;
      for (const row of db
        .prepare("SELECT key, blob_id FROM _mf_objects WHERE key >= ? AND key < ? AND blob_id IS NOT NULL")
        .all(prefix, `${prefix}\uffff`)) {
        const file = join(blobs, String(row.blob_id));
        // Another bucket's metadata names blobs that are not in this bucket's folder.
        if (existsSync(file)) objects.push({ key: String(row.key), file });
      }
    } finally {
      db.close();
    }
  }
  return objects;
}

/** A SQL string literal. */
const literal = (text) => `'${String(text).replaceAll("'", "''")}'`;

/**
 * Counts, with DuckDB, the archived request events whose path starts with `pathPrefix`.
 * @param {string[]} files Parquet files (local archive objects)
 * @param {string} pathPrefix e.g. `/soak/<run>/`
 * @param {string} secret a secret that must appear nowhere in those rows
 * @returns {Promise<{ rows: number, represented: number, duplicateEvents: number, duplicateRequests: number, secrets: number }>}
 *          rows; requests they stand for (a folded flood row for its folded_count); rows sharing an
 *          event id or a request id with another; rows whose any column contains the secret
 */
export async function archivedRequestCounts(files, pathPrefix, secret) {
  if (files.length === 0) return { rows: 0, represented: 0, duplicateEvents: 0, duplicateRequests: 0, secrets: 0 };
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    const source = `read_parquet([${files.map(literal).join(", ")}])`;
    const reader = await connection.runAndReadAll(
      `SELECT count(*) AS rows,
              coalesce(sum(CASE WHEN folded_count > 0 THEN folded_count ELSE 1 END), 0) AS represented,
              count(*) - count(DISTINCT event_id) AS duplicate_events,
              count(*) - count(DISTINCT request_id) AS duplicate_requests,
              count(*) FILTER (WHERE contains(to_json(t)::VARCHAR, ${literal(secret)})) AS secrets
         FROM ${source} AS t
        WHERE starts_with(path, ${literal(pathPrefix)})`,
    );
    const [row] = reader.getRowObjects();
    return {
      rows: Number(row.rows),
      represented: Number(row.represented),
      duplicateEvents: Number(row.duplicate_events),
      duplicateRequests: Number(row.duplicate_requests),
      secrets: Number(row.secrets),
    };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
