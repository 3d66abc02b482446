// The built-in modules a connector may import (crates/engine/src/sdk.rs,
// runtime-js/sdk/): the values the runtime provides, and the platform's
// argument and answer types, written for this runtime (what it passes and
// reads). Nothing else is importable by a bare name.
/// <reference path="./runtime.d.ts" />

declare namespace RuntimeSdk {
  // ---- values (runtime-js/sdk/) ----

  const DataCollectionEventType: {
    readonly CREATED: 'created'
    readonly UPDATED: 'updated'
    readonly DELETED: 'deleted'
  }
  type DataCollectionEventType = 'created' | 'updated' | 'deleted'

  const DataLocationType: {
    readonly directory: 'directory'
    readonly collection: 'collection'
  }
  type DataLocationType = 'directory' | 'collection'

  /** `data.type` of each error class; the host answers a webhook request
   * that threw one with the status noted. */
  const ErrorType: {
    /** 400 */ readonly BAD_REQUEST: 'bad_request'
    /** 404 */ readonly NOT_FOUND: 'not_found'
    /** 401 */ readonly NOT_AUTHENTICATED: 'not_authenticated'
    /** 403 */ readonly ACCESS_DENIED: 'access_denied'
    /** 500 */ readonly CONNECTION: 'connection'
    /** 500 */ readonly INTERNAL: 'internal'
    /** 500 */ readonly CONFIGURATION: 'configuration'
  }

  interface ErrorData {
    type?: string
    message?: string
    [key: string]: unknown
  }

  /** An Error with `.data` (`type`, `message` and whatever else was given). */
  class IntegrationAppError extends Error {
    constructor(arg?: string | ErrorData | Error)
    data: ErrorData
    /** `data.type`. */
    readonly type: string | undefined
    toJSON(): ErrorData
  }
  class BadRequestError extends IntegrationAppError {}
  class NotFoundError extends IntegrationAppError {}
  class NotAuthenticatedError extends IntegrationAppError {}
  class AccessDeniedError extends IntegrationAppError {}
  class ConnectionError extends IntegrationAppError {}
  class InternalError extends IntegrationAppError {}
  class FlowConfigurationError extends IntegrationAppError {}

  /** makeApiClient may return one; the runtime reads its options. It sends
   * no requests itself: use the `apiClient` a function receives. */
  class RestApiClient implements RuntimeApiClientOptions {
    constructor(options?: RuntimeApiClientOptions & { baseUrl?: string })
    baseUri?: string
    headers?: RuntimeApiClientOptions['headers']
    query?: RuntimeApiClientOptions['query']
    auth?: unknown
  }

  // ---- types only ----

  interface DataRecord {
    id?: string
    name?: string
    uri?: string
    url?: string
    iconUri?: string
    fields?: Record<string, any>
    rawFields?: Record<string, any>
    createdTime?: string
    updatedTime?: string
    deletedTime?: string
    [key: string]: unknown
  }
  interface DataCollectionEvent {
    type: DataCollectionEventType
    record: DataRecord
  }

  type FunctionArgs<P = Record<string, any>> = RuntimeFunctionArgs<P>

  /** `list`; a null (or absent) cursor ends the scan. */
  interface DataCollectionListArgs<P = Record<string, any>> extends FunctionArgs<P> {
    cursor?: string | null
    filter?: Record<string, any>
  }
  interface DataCollectionListResponse {
    records: DataRecord[]
    cursor?: string | null
  }
  /** `find`: without `query` it lists. */
  interface FindArgs<P = Record<string, any>> extends FunctionArgs<P> {
    cursor?: string | null
    query?: Record<string, any>
    recordFromApi?: (raw: any) => Promise<DataRecord>
  }
  type DataCollectionFindArgs<P = Record<string, any>> = FindArgs<P>
  type DataCollectionFindResponse = DataCollectionListResponse
  interface FindByIdArgs<P = Record<string, any>> extends FunctionArgs<P> {
    id: string
    recordFromApi?: (raw: any) => Promise<DataRecord>
  }
  interface DataCollectionFindByIdResponse {
    record: DataRecord | null
  }
  interface CreateArgs<P = Record<string, any>> extends FunctionArgs<P> {
    fields: Record<string, any>
  }
  interface UpdateArgs<P = Record<string, any>> extends FunctionArgs<P> {
    id: string
    fields: Record<string, any>
  }
  interface DeleteArgs<P = Record<string, any>> extends FunctionArgs<P> {
    id: string
  }
  interface DataDirectoryListArgs<P = Record<string, any>> extends FunctionArgs<P> {
    cursor?: string | null
  }

  interface PullLatestRecordsArgs<P = Record<string, any>> extends FunctionArgs<P> {
    cursor?: string | null
  }
  interface PullLatestRecordsResponse {
    records: DataRecord[]
    cursor?: string | null
  }

  interface WebhookSubscribeArgs<P = Record<string, any>> extends FunctionArgs<P> {
    webhookUri: string
    /** The same URI, as connector-sdk 2.x names it. */
    connectorWebhookUri: string
  }
  interface WebhookSubscribeResponse<S = any> {
    state: S
    nextRefreshTimestamp?: number
  }
  interface WebhookHandlerArgs<S = any, P = Record<string, any>> extends FunctionArgs<P> {
    /** The parsed body; `body` is the same value. */
    data: any
    body: any
    rawBody?: string
    headers: Record<string, string>
    query: Record<string, string>
    state: S
    subscriptionState: S
    subscription?: { id: string; events: { created?: boolean; updated?: boolean; deleted?: boolean } }
    recordFromApi?: (raw: any) => Promise<DataRecord>
  }
  /** `null`: no events. */
  type HandleWebhookResponse<S = any> = {
    events?: DataCollectionEvent[]
    response?: { status?: number; headers?: Record<string, string>; data?: unknown }
    state?: S
  } | null
  interface WebhookUnsubscribeArgs<S = any, P = Record<string, any>> extends FunctionArgs<P> {
    state: S
    subscriptionState: S
  }
  interface WebhookRefreshArgs<S = any, P = Record<string, any>> extends FunctionArgs<P> {
    state: S
    webhookUri: string
  }
}

declare module '@integration-app/sdk/errors' {
  export import ErrorType = RuntimeSdk.ErrorType
  export import ErrorData = RuntimeSdk.ErrorData
  export import IntegrationAppError = RuntimeSdk.IntegrationAppError
  export import BadRequestError = RuntimeSdk.BadRequestError
  export import NotFoundError = RuntimeSdk.NotFoundError
  export import NotAuthenticatedError = RuntimeSdk.NotAuthenticatedError
  export import AccessDeniedError = RuntimeSdk.AccessDeniedError
  export import ConnectionError = RuntimeSdk.ConnectionError
  export import InternalError = RuntimeSdk.InternalError
  export import FlowConfigurationError = RuntimeSdk.FlowConfigurationError
}

declare module '@integration-app/sdk/data-collections' {
  export import DataCollectionEventType = RuntimeSdk.DataCollectionEventType
  export import DataRecord = RuntimeSdk.DataRecord
  export import DataCollectionEvent = RuntimeSdk.DataCollectionEvent
  export import DataCollectionListArgs = RuntimeSdk.DataCollectionListArgs
  export import DataCollectionListResponse = RuntimeSdk.DataCollectionListResponse
  export import DataCollectionFindArgs = RuntimeSdk.DataCollectionFindArgs
  export import DataCollectionFindResponse = RuntimeSdk.DataCollectionFindResponse
  export import DataCollectionFindByIdResponse = RuntimeSdk.DataCollectionFindByIdResponse
}

declare module '@integration-app/sdk/data-locations' {
  export import DataLocationType = RuntimeSdk.DataLocationType
  export import DataDirectoryListArgs = RuntimeSdk.DataDirectoryListArgs
}

declare module '@integration-app/sdk' {
  export * from '@integration-app/sdk/errors'
  export * from '@integration-app/sdk/data-collections'
  export * from '@integration-app/sdk/data-locations'
  export import RestApiClient = RuntimeSdk.RestApiClient
  export import FindArgs = RuntimeSdk.FindArgs
  export import FindByIdArgs = RuntimeSdk.FindByIdArgs
  export import CreateArgs = RuntimeSdk.CreateArgs
  export import UpdateArgs = RuntimeSdk.UpdateArgs
  export import DeleteArgs = RuntimeSdk.DeleteArgs
  export import PullLatestRecordsArgs = RuntimeSdk.PullLatestRecordsArgs
  export import PullLatestRecordsResponse = RuntimeSdk.PullLatestRecordsResponse
  export import WebhookSubscribeArgs = RuntimeSdk.WebhookSubscribeArgs
  export import WebhookSubscribeResponse = RuntimeSdk.WebhookSubscribeResponse
  export import WebhookHandlerArgs = RuntimeSdk.WebhookHandlerArgs
  export import HandleWebhookResponse = RuntimeSdk.HandleWebhookResponse
  export import WebhookUnsubscribeArgs = RuntimeSdk.WebhookUnsubscribeArgs
  export import WebhookRefreshArgs = RuntimeSdk.WebhookRefreshArgs
}

declare module '@integration-app/connector-sdk' {
  export * from '@integration-app/sdk'
}

declare module '@membranehq/sdk' {
  export * from '@integration-app/sdk'
}
declare module '@membranehq/sdk/errors' {
  export * from '@integration-app/sdk/errors'
}
declare module '@membranehq/sdk/data-collections' {
  export * from '@integration-app/sdk/data-collections'
}
declare module '@membranehq/sdk/data-locations' {
  export * from '@integration-app/sdk/data-locations'
}
