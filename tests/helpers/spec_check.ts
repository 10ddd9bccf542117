// Holds an answer to the OpenAPI route table: its status is documented and its body fits.

import { errorBody } from "../../src/api/response_schemas.ts";
import { type RouteDoc, routeDocs } from "../../src/api/route_docs.ts";

const patterns = routeDocs.map((route) => ({
  route,
  regex: new RegExp(`^${route.path.replace(/:(\w+)/g, "[^/]+")}$`),
}));

/** The documented route that serves `method path`, if any. */
export function routeFor(method: string, path: string): RouteDoc | undefined {
  return patterns.find((p) => p.route.method === method.toLowerCase() && p.regex.test(path))
    ?.route;
}

/** Throws when the answer is not what the document says `method url` answers. */
export function checkAnswer(method: string, url: string, status: number, body: unknown): void {
  const path = new URL(url).pathname;
  const where = `${method} ${path} answered ${status}`;
  if (status >= 400) {
    const r = errorBody.safeParse(body);
    if (!r.success) throw new Error(`${where} with a body unlike Error: ${r.error.message}`);
    return;
  }
  const route = routeFor(method, path);
  if (!route) throw new Error(`${where}, but the OpenAPI document has no such route`);
  const answer = route.answers[status];
  if (!answer) throw new Error(`${where}, a status its OpenAPI entry does not list`);
  if (!answer.schema || (answer.type && answer.type !== "application/json")) return;
  const r = answer.schema.safeParse(body);
  if (!r.success) {
    throw new Error(`${where} with a body unlike its schema: ${r.error.message}`);
  }
}
