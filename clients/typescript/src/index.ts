// A typed client of the collabcache API (README, "Calling the API from a frontend").
// `schema.d.ts` is generated from the API's OpenAPI document (`make client`); never edit it.
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema";

export type { components, operations, paths } from "./schema";
export type CollabcacheClient = Client<paths>;
export type ErrorBody = components["schemas"]["ErrorBody"];

/** A client whose every call carries the caller's bearer token (`make token EMAIL=...`). */
export function collabcacheClient(baseUrl: string, token: string): CollabcacheClient {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}

/** The `detail` of an error body: a message, or a 422's field errors joined. */
export function errorMessage(error: { detail?: unknown }): string {
  const { detail } = error;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((item: { loc?: unknown[]; msg?: string }) => item.msg ?? "").join("; ");
  }
  return "unexpected error";
}
