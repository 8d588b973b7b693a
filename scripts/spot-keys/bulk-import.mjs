// spot-keys: the engine of `import --file` (docs/cli.md "Bulk import"): reading the file (owner-only),
// importing each line with retries and backoff, 8 at a time, and the progress on stderr. Never a secret
// in what it prints.

import { readFileSync, statSync } from "node:fs";
import { AdminApiError, adminRequest } from "../admin-client.mjs";
import { registeredTo } from "../lib/import-file.mjs";
import { UsageError } from "./errors.mjs";

/** Import requests in flight at once. */
const IMPORT_CONCURRENCY = 8;
/** Attempts of one line while the answer is 429 or 503 or there is none, before it counts as failed (or stops the run). */
const IMPORT_ATTEMPTS = 6;
/** The longest wait between two attempts, whatever Retry-After says. */
const MAX_RETRY_WAIT_MS = 60_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A path as a shell word, for the `chmod` hint. */
const shellWord = (text) => (/^[\w./@%+=:,-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`);

/**
 * Reads the import file. It holds secrets, so one that group or others may read or write (POSIX mode &
 * 0o077) is refused, with the chmod that fixes it; Windows has no such mode bits and is not checked.
 */
export function readImportFile(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    throw new UsageError(`--file ${path}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
  }
  if (!stat.isFile()) throw new UsageError(`--file ${path}: not a regular file`);
  if (process.platform !== "win32" && (stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
    throw new UsageError(
      `--file ${path} has mode ${mode}: others can read it, and it holds secrets. Make it readable by you only (\`chmod 600 ${shellWord(path)}\`) and run again`,
    );
  }
  return readFileSync(path, "utf8");
}

/** How long to wait before attempt `attempt + 1`: the answer's Retry-After, else 0.5 s doubling (with jitter). */
function retryDelayMs(err, attempt) {
  if (err.retryAfter !== null && err.retryAfter !== undefined) return Math.min(MAX_RETRY_WAIT_MS, err.retryAfter * 1000);
  return Math.min(MAX_RETRY_WAIT_MS, 500 * 2 ** (attempt - 1) * (0.8 + Math.random() * 0.4));
}

/**
 * Imports one line, retrying 429, 503 and network failures with backoff.
 * @returns {Promise<{ outcome: "imported", key: object | null } | { outcome: "already" } | { outcome: "failed", reason: string }>}
 * @throws AdminApiError that stops the whole run: 401/403, or no answer after every attempt
 */
async function importLine(conn, entry) {
  const secret = entry.body.secret;
  // The API's messages do not quote the secret; this keeps it so should one ever do.
  const clean = (text) => String(text ?? "").replaceAll(secret, "sk_…");
  for (let attempt = 1; ; attempt++) {
    try {
      const { body } = await adminRequest({ ...conn, method: "POST", path: `/accounts/${entry.account}/keys/import`, body: entry.body });
      return { outcome: "imported", key: body?.key ?? null };
    } catch (err) {
      if (!(err instanceof AdminApiError)) throw err;
      const passing = err.kind === "network" || err.status === 429 || err.status === 503;
      if (passing && attempt < IMPORT_ATTEMPTS) {
        await sleep(retryDelayMs(err, attempt));
        continue;
      }
      if (err.kind === "network" || err.status === 401 || err.status === 403) {
        err.message = clean(err.message);
        throw err;
      }
      if (err.code === "secret_already_registered") {
        const owner = registeredTo(err);
        if (owner === "this_account") return { outcome: "already" };
        return {
          outcome: "failed",
          reason:
            owner === "another_account"
              ? "the secret is registered to another account (409 secret_already_registered)"
              : `${clean(err.message)} (409, secret_already_registered)`,
        };
      }
      const detail = [err.status, err.code, err.param && `field ${err.param}`].filter(Boolean).join(", ");
      return { outcome: "failed", reason: `${clean(err.message)} (${detail}${passing ? `, after ${attempt} attempts` : ""})` };
    }
  }
}

/**
 * Progress on stderr: a bar redrawn in place on a terminal; otherwise a plain line at every tenth of the
 * lines and at least every 10 s. Never a secret: only counts.
 */
export function importProgress(total) {
  const tty = Boolean(process.stderr.isTTY);
  const step = Math.max(1, Math.ceil(total / 10));
  // On a terminal the bar is drawn at once; plain lines start after the first tenth (or 10 s).
  let lastMs = tty ? 0 : Date.now();
  let lastDone = 0;
  const text = (c) => `${c.done}/${total} lines · imported ${c.imported} · already present ${c.already} · failed ${c.failed}`;
  return {
    update(c) {
      const now = Date.now();
      if (tty) {
        if (c.done < total && now - lastMs < 100) return;
        const width = 30;
        const filled = Math.round((c.done / total) * width);
        process.stderr.write(`\r\x1b[2K[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${text(c)}`);
      } else {
        if (!(c.done === total || c.done - lastDone >= step || now - lastMs >= 10_000)) return;
        process.stderr.write(`import: ${text(c)}\n`);
        lastDone = c.done;
      }
      lastMs = now;
    },
    finish() {
      if (tty) process.stderr.write("\n");
    },
  };
}

/** Runs the import of every entry, IMPORT_CONCURRENCY at a time; a stopping error leaves the rest not done. */
export async function importEntries(conn, entries, onResult) {
  const results = new Array(entries.length).fill(null);
  let next = 0;
  let stopped = null;
  const worker = async () => {
    while (stopped === null && next < entries.length) {
      const i = next++;
      try {
        results[i] = await importLine(conn, entries[i]);
      } catch (err) {
        stopped ??= err;
        return;
      }
      onResult(results[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IMPORT_CONCURRENCY, entries.length) }, worker));
  return { results, stopped };
}
