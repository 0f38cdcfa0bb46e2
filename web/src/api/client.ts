// The typed API client: openapi-fetch over the types openapi-typescript
// generated from the server's schema, signed by the session's fetch.

import createClient from "openapi-fetch";

import type { components, paths } from "./generated/schema";
import { SCHEMA_PATHS } from "./generated/paths";
import type { PendingPaths } from "./pending";
import { createAuthFetch } from "./session";

/** Generated paths win; the guide's contract fills in what is not served yet. */
export type ApiPaths = paths & Omit<PendingPaths, keyof paths>;
export type Schemas = components["schemas"];

type GetPaths = {
  [P in keyof ApiPaths]: ApiPaths[P] extends { get: unknown } ? P : never;
}[keyof ApiPaths];

/** The JSON body of a GET path's 200 answer. */
export type GetResult<P extends GetPaths> = ApiPaths[P] extends {
  get: { responses: { 200: { content: { "application/json": infer T } } } };
}
  ? T
  : never;

export const api = createClient<ApiPaths>({
  baseUrl: typeof window === "undefined" ? "" : window.location.origin,
  fetch: createAuthFetch(),
});

const knownPaths = new Set(SCHEMA_PATHS);

/** Whether the schema this app was built against has the path. */
export function served(path: string): boolean {
  return knownPaths.has(path);
}

export class ApiError extends Error {
  readonly status: number;
  /** The endpoint is not part of the API yet (as opposed to a record missing). */
  readonly unavailable: boolean;

  constructor(status: number, message: string, unavailable = false) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.unavailable = unavailable;
  }
}

function messageOf(error: unknown, status: number): string {
  if (error && typeof error === "object" && "message" in error) {
    const message = (error as { message: unknown }).message;
    if (typeof message === "string" && message) return message;
  }
  return `Request failed (${status})`;
}

/**
 * The data of an openapi-fetch answer, or an ApiError. A 404 on a path the
 * schema lacks, or FastAPI's bare "Not Found" for an unrouted path, means the
 * endpoint itself is missing.
 */
export async function unwrap<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
  schemaPath?: string,
): Promise<T> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await pending;
  } catch (cause) {
    throw new ApiError(0, "The server could not be reached. Check your connection.");
  }
  const { data, error, response } = answer;
  if (response.ok) return data as T;
  const message = messageOf(error, response.status);
  const missing =
    response.status === 404 &&
    ((schemaPath !== undefined && !served(schemaPath)) || message === "Not Found");
  throw new ApiError(response.status, message, missing);
}
