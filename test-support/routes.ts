// test-support/routes.ts — the routes YAML the whole-process tests share (`{{PORT}}` and `{{APP}}` are filled in by
// startStack): a signed-in route for the engineering group and a public route, on the sample app.

/** `app.localhost`: signed-in users of the `engineering` group. */
export const APP_ROUTE = `  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [engineering]
`;

/** `public.localhost`: no sign-in. */
export const PUBLIC_ROUTE = `  - name: public
    from: http://public.localhost:{{PORT}}
    to: {{APP}}
    public: true
`;

/** The two routes above: what startStack serves unless told otherwise. */
export const DEFAULT_ROUTES = `routes:
${APP_ROUTE}${PUBLIC_ROUTE}`;

/** `app.localhost/admin` for the `wiki-admins` group, under a public route for the rest of the host (path tests). */
export const ADMIN_UNDER_PUBLIC_ROUTES = `  - name: admin
    from: http://app.localhost:{{PORT}}/admin
    to: {{APP}}
    policy:
      allow:
        - groups: [wiki-admins]
  - name: public
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    public: true
`;

/** `app.localhost` for engineering or wiki-admins, and `admin.localhost` for them with MFA (the step-up tests). */
export const STEP_UP_ROUTES = `  - name: app
    from: http://app.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - groups: [engineering, wiki-admins]
  - name: admin
    from: http://admin.localhost:{{PORT}}
    to: {{APP}}
    policy:
      allow:
        - and: [ { groups: [engineering, wiki-admins] }, { mfa: true } ]
`;
