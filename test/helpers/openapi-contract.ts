/**
 * The admin API's answers checked against its OpenAPI document (docs/admin-api.md "Contract check").
 *
 * {@link responseContract} takes an OpenAPI document; its `check` takes one real answer (method, path,
 * status, Content-Type, body) and finds what the document declares for it:
 *
 *   operation   the method and the path matched against the document's path templates (a literal
 *               segment wins over a `{parameter}`, as in OpenAPI's own matching);
 *   response    the exact status, else its range (`4XX`), else `default`;
 *   media type  the Content-Type without parameters, exactly as a key of the response's `content`;
 *   body        validated against that media type's schema by @cfworker/json-schema.
 *
 * Anything the document does not declare (an operation, a status, a media type, a body where none is
 * declared) and any body that does not match is a {@link ContractViolation}.
 *
 * Why @cfworker/json-schema: the tests run inside workerd, which forbids generated code (`new Function`),
 * so Ajv cannot compile there; this validator interprets schemas and was made for Workers. It speaks JSON
 * Schema, so the schema dialect is chosen by the document's `openapi` version:
 *
 *   3.0.x  draft 4 semantics plus `nullable: true`, which becomes `type: [<type>, "null"]`. `nullable`
 *          without a `type` is refused, as Ajv (and so Stoplight Prism) refuses it: such a document
 *          cannot be used at all. An `enum` keeps its own say over null (OpenAPI 3.0.3 §4.7.25.1).
 *   3.1.x  JSON Schema 2020-12, as written.
 *
 * Object schemas are checked closed: one with `properties` and no `additionalProperties` gets
 * `additionalProperties: false` here (the document itself stays open for clients), so a field the API
 * sends but the document does not list fails. An object meant to stay open says
 * `additionalProperties: true`. Composition with `allOf` of two object schemas that both list
 * properties would be refused by closing each, so such a document is refused with that reason.
 */
import { dereference, type Schema, type SchemaDraft, validate } from "@cfworker/json-schema";

/** One real answer of the API. `body`: the parsed JSON for a JSON media type, else the text ("" for none). */
export interface Exchange {
  method: string;
  /** The request path (a query string is ignored). */
  path: string;
  status: number;
  /** The Content-Type header, or null when the answer has none. */
  contentType: string | null;
  body: unknown;
}

/** What the document declares for an answer that passed. */
export interface ContractMatch {
  operationId: string;
  /** `METHOD template`, e.g. `GET /__spot/admin/v1/accounts/{account_id}/keys`. */
  operation: string;
  /** The key of the matched response: `200`, `4XX` or `default`. */
  status: string;
  /** The matched media type, or null for a response declared without content. */
  mediaType: string | null;
}

/** An answer the document does not declare, or whose body does not match. */
export class ContractViolation extends Error {
  override readonly name = "ContractViolation";
}

export interface ResponseContract {
  /** Why the document cannot be used to check answers (empty when it can): see {@link responseContract}. */
  readonly problems: string[];
  /**
   * @throws {ContractViolation} when the document does not declare this answer or its body does not match
   * @throws {Error} when the document cannot be used ({@link ResponseContract.problems})
   */
  check(exchange: Exchange): ContractMatch;
  /** Every declared operation with its declared response keys (for coverage). */
  operations(): { operationId: string; operation: string; statuses: string[] }[];
}

type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  method: string;
  template: string;
  segments: string[];
  responses: Json;
}

const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/**
 * Prepares `document` for checking answers. A document that cannot be used (`nullable` without `type`
 * in 3.0, an `allOf` of object schemas, an operation without `operationId`) lists why in `problems`,
 * and each `check` then throws.
 * @throws {Error} for an `openapi` version other than 3.0.x and 3.1.x
 */
export function responseContract(document: unknown): ResponseContract {
  const doc = structuredClone(document) as Json;
  const version = String(doc.openapi ?? "");
  const draft: SchemaDraft | null = /^3\.0\.\d+$/.test(version) ? "4" : /^3\.1\.\d+$/.test(version) ? "2020-12" : null;
  if (draft === null) throw new Error(`OpenAPI version ${JSON.stringify(version)} is not supported (3.0.x or 3.1.x)`);

  const problems: string[] = [];
  const adapt = (schema: unknown, pointer: string): void => adaptSchema(doc, schema, pointer, draft === "4", problems);
  for (const [name, schema] of Object.entries((doc.components as Json | undefined)?.schemas ?? {})) {
    adapt(schema, `#/components/schemas/${escapePointer(name)}`);
  }
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries((doc.paths as Json | undefined) ?? {})) {
    for (const method of HTTP_METHODS) {
      const op = (item as Json)[method] as Json | undefined;
      if (op === undefined) continue;
      const where = `#/paths/${escapePointer(template)}/${method}`;
      if (typeof op.operationId !== "string") problems.push(`${where}: no operationId`);
      const responses = (op.responses ?? {}) as Json;
      for (const [status, response] of Object.entries(responses)) {
        const content = (resolve(doc, response) as Json).content as Json | undefined;
        for (const [mediaType, media] of Object.entries(content ?? {})) {
          adapt((media as Json).schema, `${where}/responses/${status}/content/${escapePointer(mediaType)}/schema`);
        }
      }
      operations.push({ operationId: String(op.operationId), method, template, segments: template.split("/"), responses });
    }
  }
  // Indexes every subschema by its JSON pointer, so `$ref: "#/components/schemas/…"` resolves.
  const lookup = dereference(doc as Schema);

  function findOperation(method: string, path: string): Operation {
    const segments = path.split("?")[0]?.split("/") ?? [];
    const matching = operations
      .filter((op) => op.segments.length === segments.length && op.segments.every((s, i) => isParam(s) || s === segments[i]))
      .sort((a, b) => literalCount(b) - literalCount(a));
    const op = matching.find((o) => o.method === method.toLowerCase());
    if (op !== undefined) return op;
    if (matching.length === 0) throw new ContractViolation(`${method} ${path}: no path of the document matches`);
    throw new ContractViolation(
      `${method} ${path}: the document declares no ${method} operation on ${matching[0]?.template} (only ${[...new Set(matching.map((o) => o.method.toUpperCase()))].join(", ")})`,
    );
  }

  return {
    problems,
    check(exchange: Exchange): ContractMatch {
      if (problems.length > 0) throw new Error(`the OpenAPI document cannot be used to check answers:\n  ${problems.join("\n  ")}`);
      const op = findOperation(exchange.method, exchange.path);
      const operation = `${op.method.toUpperCase()} ${op.template}`;
      const where = `${exchange.method} ${exchange.path} → ${exchange.status} (${op.operationId})`;
      const statusKey = [String(exchange.status), `${String(exchange.status)[0]}XX`, "default"].find((k) => k in op.responses);
      if (statusKey === undefined) {
        throw new ContractViolation(
          `${where}: status ${exchange.status} is not declared (declared: ${Object.keys(op.responses).join(", ")})`,
        );
      }
      const response = resolve(doc, op.responses[statusKey]) as Json;
      const content = (response.content ?? {}) as Json;
      if (Object.keys(content).length === 0) {
        if (exchange.body !== "" && exchange.body !== undefined && exchange.body !== null) {
          throw new ContractViolation(`${where}: the document declares no body for this response, and it has one`);
        }
        return { operationId: op.operationId, operation, status: statusKey, mediaType: null };
      }
      const mediaType = exchange.contentType?.split(";")[0]?.trim().toLowerCase() ?? "";
      const media = content[mediaType] as Json | undefined;
      if (media === undefined) {
        throw new ContractViolation(
          `${where}: Content-Type ${JSON.stringify(exchange.contentType)} is not declared (declared: ${Object.keys(content).join(", ")})`,
        );
      }
      if (media.schema !== undefined) {
        const result = validate(exchange.body, media.schema as Schema, draft, lookup, false);
        if (!result.valid) {
          const details = result.errors
            .filter((e) => !/^(\$ref|allOf|properties|items)$/.test(e.keyword)) // the leaves say what is wrong
            .slice(0, 8)
            .map((e) => `${e.instanceLocation || "#"}: ${e.error} (${e.keywordLocation})`);
          throw new ContractViolation(`${where}: the body does not match the ${mediaType} schema:\n  ${details.join("\n  ")}`);
        }
      }
      return { operationId: op.operationId, operation, status: statusKey, mediaType };
    },
    operations() {
      return operations.map((op) => ({
        operationId: op.operationId,
        operation: `${op.method.toUpperCase()} ${op.template}`,
        statuses: Object.keys(op.responses),
      }));
    },
  };
}

const isParam = (segment: string): boolean => /^\{[^{}]+\}$/.test(segment);
const literalCount = (op: Operation): number => op.segments.filter((s) => !isParam(s)).length;
const escapePointer = (token: string): string => token.replaceAll("~", "~0").replaceAll("/", "~1");

/** A `$ref` to a place in the same document (`#/…`), followed; anything else as it is. */
function resolve(doc: Json, value: unknown): unknown {
  let current = value;
  for (let hops = 0; hops < 16; hops++) {
    const ref = (current as Json | null)?.$ref;
    if (typeof ref !== "string") return current;
    if (!ref.startsWith("#/")) throw new Error(`only references inside the document are supported: ${ref}`);
    current = ref
      .slice(2)
      .split("/")
      .map((t) => decodeURIComponent(t).replaceAll("~1", "/").replaceAll("~0", "~"))
      .reduce<unknown>((node, token) => (node as Json | undefined)?.[token], doc);
    if (current === undefined) throw new Error(`unresolved reference ${ref}`);
  }
  throw new Error("reference chain too long");
}

/**
 * Rewrites one schema in place for checking (see the module comment): `nullable` of OpenAPI 3.0 into a
 * type list, object schemas closed. Records why the document cannot be used in `problems`.
 */
function adaptSchema(doc: Json, schema: unknown, pointer: string, openapi30: boolean, problems: string[]): void {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return;
  const s = schema as Json;
  if (typeof s.$ref === "string") return; // its target is adapted where it lives
  if (openapi30 && "nullable" in s) {
    if (s.nullable === true) {
      if (s.type === undefined) problems.push(`${pointer}: nullable without type`);
      else s.type = Array.isArray(s.type) ? [...s.type, "null"] : [s.type, "null"];
    }
    delete s.nullable;
  }
  if (s.properties !== undefined && !("additionalProperties" in s)) s.additionalProperties = false;
  if (Array.isArray(s.allOf)) {
    const objects = s.allOf.filter((member) => (resolve(doc, member) as Json | null)?.properties !== undefined);
    if (objects.length > 1)
      problems.push(`${pointer}: allOf of ${objects.length} object schemas (closing each would refuse the others' fields)`);
  }
  for (const [name, sub] of Object.entries((s.properties as Json | undefined) ?? {})) {
    adaptSchema(doc, sub, `${pointer}/properties/${escapePointer(name)}`, openapi30, problems);
  }
  for (const keyword of ["items", "additionalProperties", "not"])
    adaptSchema(doc, s[keyword], `${pointer}/${keyword}`, openapi30, problems);
  for (const keyword of ["allOf", "anyOf", "oneOf"]) {
    const list = s[keyword];
    if (!Array.isArray(list)) continue;
    for (const [i, sub] of list.entries()) adaptSchema(doc, sub, `${pointer}/${keyword}/${i}`, openapi30, problems);
  }
}
