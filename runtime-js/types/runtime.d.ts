// Types of what this runtime gives a connector function: its argument
// (apiClient, parameters, credentials and each function's own keys), the
// apiClient, ApiError, and what functions return. Referenced by sdk.d.ts,
// which declares the built-in modules a connector may import. Keep them
// true to runtime-js/api_client.js, runtime-js/invoke.js and
// docs/connector-format.md: they describe the runtime, not the platform.
//
// Use: copy this folder into a connector (or point at it) and add it to
// tsconfig.json, e.g. {"compilerOptions": {"strict": true, "noEmit": true},
// "include": ["**/*.ts", "path/to/types/*.d.ts"]}. The runtime never reads
// these files; it strips a connector's types without checking them.

/** What `apiClient.request` returns. */
interface RuntimeApiResponse<T = any> {
  status: number
  headers: Record<string, string>
  data: T
}

/** Per-request options of apiClient's methods. */
interface RuntimeApiRequestOptions {
  /** Added to this request's headers. */
  headers?: Record<string, string>
  /** Query parameters (used when the `query` argument is absent). */
  query?: Record<string, unknown>
}

/**
 * The connection's HTTP client: `baseUri`, headers and query from
 * makeApiClient; requests only to allowed origins; retries; a 401 refreshes
 * the credentials once. Bodies are parsed as JSON (text when not JSON).
 */
interface RuntimeApiClient {
  get<T = any>(path: string, query?: Record<string, unknown>, options?: RuntimeApiRequestOptions): Promise<T>
  delete<T = any>(path: string, query?: Record<string, unknown>, options?: RuntimeApiRequestOptions): Promise<T>
  post<T = any>(path: string, data?: unknown, options?: RuntimeApiRequestOptions): Promise<T>
  put<T = any>(path: string, data?: unknown, options?: RuntimeApiRequestOptions): Promise<T>
  patch<T = any>(path: string, data?: unknown, options?: RuntimeApiRequestOptions): Promise<T>
  request<T = any>(options: {
    method?: string
    path?: string
    query?: Record<string, unknown>
    data?: unknown
    headers?: Record<string, string>
  }): Promise<RuntimeApiResponse<T>>
}

/** Thrown by apiClient for a non-2xx answer (a global of the runtime). */
declare class ApiError extends Error {
  name: 'ApiError'
  status: number
  /** The whole parsed body. */
  data: any
  headers: Record<string, string>
  method: string
  url: string
}

declare const apiClient: RuntimeApiClient

/** What every function receives. */
interface RuntimeFunctionArgs<P = Record<string, any>, C = Record<string, any>> {
  apiClient: RuntimeApiClient
  /** Connector, then collection, then call parameters; defaults applied. */
  parameters: P
  credentials: C
}

/** What makeApiClient returns: a plain object or a RestApiClient. */
interface RuntimeApiClientOptions {
  /** Wins over the spec's baseUri. */
  baseUri?: string
  /** Values may be strings, numbers or booleans; null values are skipped. */
  headers?: Record<string, string | number | boolean | null>
  /** An array value repeats its key. */
  query?: Record<string, string | number | boolean | null | Array<string | number | boolean>>
  /** Kept for the platform's shape; this runtime does not read it. */
  auth?: unknown
}
