// e2e/idp/oidc-provider.d.ts — types for the slice of oidc-provider@9 the dev IdP uses
// (the package ships none, and @types/oidc-provider lags behind v9).
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export type UnknownObject = Record<string, unknown>;

  export interface Session {
    uid: string;
    accountId?: string;
    acr?: string;
    amr?: string[];
    loginTs?: number;
    state?: { secret?: string } & UnknownObject;
    authorizations?: Record<string, { sid?: string; grantId?: string }>;
    sidFor(clientId: string): string | undefined;
    grantIdFor(clientId: string): string | undefined;
  }

  export interface ClientInstance {
    clientId: string;
    backchannelLogoutUri?: string;
    idTokenSignedResponseAlg: string;
  }

  export interface ClientClass {
    find(clientId: string): Promise<ClientInstance | undefined>;
    prototype: { includeSid(): boolean };
  }

  export interface GrantInstance {
    jti: string;
    accountId: string;
    clientId: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface GrantClass {
    new (properties: { accountId: string; clientId: string }): GrantInstance;
    find(id: string): Promise<GrantInstance | undefined>;
  }

  export interface IdTokenInstance {
    mask: UnknownObject;
    set(claim: string, value: unknown): void;
    issue(options: { use: 'idtoken' | 'logout' }): Promise<string>;
  }

  export interface IdTokenClass {
    new (claims: UnknownObject, options: { client: ClientInstance; ctx?: undefined }): IdTokenInstance;
  }

  export interface OidcContext {
    route: string;
    params: Record<string, string | undefined>;
    session: Session;
    client?: ClientInstance;
    acr?: string;
    result?: { login?: UnknownObject; consent?: { grantId?: string } } & UnknownObject;
    requestParamOIDCScopes: Set<string>;
    requestParamClaims: Set<string>;
    provider: Provider;
  }

  /** The Koa context oidc-provider hands to middleware and configuration functions. */
  export interface KoaContext {
    method: string;
    path: string;
    status: number;
    body: unknown;
    type: string;
    headers: Record<string, string | string[] | undefined>;
    oidc: OidcContext;
    response: { get(field: string): string | string[] };
    set(field: string, value: string | string[]): void;
    redirect(url: string): void;
  }

  export type Next = () => Promise<void>;

  export interface InteractionResult {
    login?: { accountId: string; acr?: string; amr?: string[]; remember?: boolean; ts?: number };
    consent?: { grantId?: string };
    error?: string;
    error_description?: string;
  }

  export interface Interaction {
    uid: string;
    prompt: { name: string; reasons: string[]; details: UnknownObject & { missingOIDCScope?: string[]; missingOIDCClaims?: string[] } };
    params: Record<string, string | undefined>;
    session?: { accountId?: string; uid?: string };
    grantId?: string;
    lastSubmission?: InteractionResult;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string, claims: UnknownObject, rejected: string[]): Promise<UnknownObject> | UnknownObject;
  }

  export type Configuration = UnknownObject & {
    findAccount?: (ctx: KoaContext, sub: string) => Promise<Account | undefined> | Account | undefined;
    loadExistingGrant?: (ctx: KoaContext) => Promise<GrantInstance | undefined>;
  };

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    readonly Client: ClientClass;
    readonly Grant: GrantClass;
    readonly IdToken: IdTokenClass;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    use(middleware: (ctx: KoaContext, next: Next) => Promise<void>): this;
    on(event: string, listener: (...args: any[]) => void): this;
    cookieName(type: 'session' | 'interaction' | 'resume'): string;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: InteractionResult, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  }

  export default Provider;

  export namespace interactionPolicy {
    class Check {
      constructor(reason: string, description: string, check: (ctx: KoaContext) => boolean | Promise<boolean>);
      static readonly REQUEST_PROMPT: true;
      static readonly NO_NEED_TO_PROMPT: false;
    }
    interface Prompt {
      name: string;
      checks: Check[] & { add(check: Check, index?: number): void };
    }
    type Policy = Prompt[] & { get(name: string): Prompt | undefined };
    function base(): Policy;
  }
}
