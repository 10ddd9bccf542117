// The OpenAPI 3.1 document, made from the route table and the same zod schemas that validate.

import { z } from "zod";
import { VERSION } from "../version.ts";
import { errorBody } from "./response_schemas.ts";
import { type RouteDoc, routeDocs } from "./route_docs.ts";

type Json = Record<string, unknown>;

/** A schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect); users' JSON is any value. */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): Json {
  const out = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" });
  delete (out as Json).$schema;
  return out as Json;
}

/** `/v1/jobs/:id` as OpenAPI writes it: `/v1/jobs/{id}`. */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");

function parameters(route: RouteDoc): Json[] {
  const out: Json[] = [];
  for (const [name, schema] of Object.entries(route.params ?? {})) {
    out.push({ name, in: "path", required: true, schema: jsonSchema(schema, "input") });
  }
  const query = route.query ? jsonSchema(route.query, "input") : null;
  const properties = (query?.properties ?? {}) as Record<string, Json>;
  for (const [name, schema] of Object.entries(properties)) {
    const { description, ...rest } = schema;
    out.push({ name, in: "query", required: false, schema: rest, description });
  }
  return out;
}

function operation(route: RouteDoc): Json {
  const op: Json = { summary: route.summary, tags: [route.tag], operationId: route.id };
  if (route.description) op.description = route.description;
  const params = parameters(route);
  if (params.length > 0) op.parameters = params;
  if (route.body) {
    op.requestBody = {
      required: !route.optionalBody,
      content: { "application/json": { schema: jsonSchema(route.body, "input") } },
    };
  }
  const responses: Json = {};
  for (const [status, answer] of Object.entries(route.answers)) {
    const type = answer.type ?? "application/json";
    const schema = answer.schema ? jsonSchema(answer.schema, "output") : {};
    responses[status] = {
      description: answer.description,
      ...(answer.type === "none" ? {} : { content: { [type]: { schema } } }),
    };
  }
  responses.default = {
    description: "an error: see the README's errors and every 503",
    content: { "application/json": { schema: jsonSchema(errorBody, "output") } },
  };
  return { ...op, responses };
}

/** The whole document (GET /openapi.json, docs/openapi.json). */
export function openApiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const route of routeDocs) {
    const path = openApiPath(route.path);
    paths[path] = { ...(paths[path] ?? {}), [route.method]: operation(route) };
  }
  return {
    openapi: "3.1.1",
    info: {
      title: "raftq",
      version: VERSION,
      description:
        'A replicated job queue: the REST API every node serves. Errors are always {"error": {"code", "message"}}.',
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    security: [{}, { bearer: [] }],
    paths,
  };
}
