// Package okta owns credbatch's HTTP client for the Okta Management API: the
// seven user credential operations (expire_password,
// expire_password_with_temp_password, reset_password, forgot_password,
// forgot_password_set_new_password, change_password,
// change_recovery_question), clear_sessions, GetUser and GetMe.
//
// A Client makes exactly one HTTP attempt per call; pacing, retries and the
// decision whether a failed attempt may be repeated belong to the runner.
// Every call returns (*Response, error). A failure is one of:
//
//   - *APIError: Okta (or something in front of it) answered with a non-2xx
//     status. errors.Is matches ErrUnauthorized (401), ErrForbidden (403),
//     ErrNotFound (404) and ErrRateLimited (429).
//   - *NetError: no usable answer. MayHaveReached says whether the request
//     was written in full (so Okta may have applied it); Timeout says whether
//     the per-request time limit (or a network timeout) ended it. A
//     cancellation of the caller's context is a *NetError too, and
//     errors.Is(err, context.Canceled) holds. A 2xx whose body was cut off,
//     was not JSON, was over 1 MiB, or (expire_password_with_temp_password)
//     lacked the temporary password is a *NetError wrapping ErrBadResponse
//     with MayHaveReached true: the change may have applied, its result is
//     lost.
//   - any other error: the call was refused before anything was sent (an
//     empty user ID, for instance).
//
// Rate-limit headers are parsed into RateInfo on every answer, error or not.
//
// # Authorization
//
// SSWS and Bearer send a static token. PrivateKey (AuthPrivateKey) is OAuth
// 2.0 client credentials with private_key_jwt: the client signs a client
// assertion (RS256 or ES256 by its key: iss = sub = the client ID, aud =
// ORG/oauth2/v1/token, a fresh jti, iat, exp five minutes later; kid =
// Config.PrivateKeyID) and POSTs it to ORG/oauth2/v1/token for the scopes
// (space-separated). The access token is cached and renewed at three
// quarters of its lifetime (expires_in, counted from before the request;
// missing, zero or negative means 60 s), never later than one second before
// it runs out, so a token of any lifetime is replaced before it expires. At
// most one renewal starts per second: a token that is due meanwhile is used
// while it lives, and a renewal after a 401 waits for the second to pass.
// One renewal runs at a time and every worker that needs a token meanwhile
// waits for it and shares it.
//
// DPoP is learned the way the Okta SDKs learn it: when the first token
// request is answered 400 invalid_dpop_proof, every later token request and
// API call carries a DPoP proof (typ dpop+jwt, ES256 by an EC P-256 key
// generated once per process, never the client's key, its public JWK in the
// header; claims htm, htu without query, iat, a fresh jti, ath =
// base64url(SHA-256(access token)) for API calls, and the server's nonce
// when it gave one) and the API sees "Authorization: DPoP <token>". Every
// HTTP request gets a fresh proof, retries included.
//
// In PrivateKey mode one call may therefore send more than one request,
// each only after the previous one was answered without effect:
//
//   - a 400 use_dpop_nonce from the token endpoint, or a 401 from the API
//     with `WWW-Authenticate: DPoP error="use_dpop_nonce"`, is retried with
//     the nonce of its DPoP-Nonce header (up to three times; this is no
//     renewal);
//   - any other 401 from the API renews the token once and repeats the
//     request once. Only a 401 that persists after that renewal is returned,
//     so a caller (the runner) sees ErrUnauthorized only when renewing did
//     not help.
//
// A token request the authorization server refuses (invalid_client,
// invalid_scope, ...) is returned as an *APIError with HTTPStatus 401 (no
// API call can be authorized: errors.Is ErrUnauthorized holds), Code the
// OAuth error and Summary its description; nothing was sent to the API. A
// token request that got no usable answer (network, timeout, 429, 5xx) is a
// *NetError with Op "POST /oauth2/v1/token" and MayHaveReached false. A 400
// from the API with an empty body (a bad DPoP proof) takes its Code and
// Summary from WWW-Authenticate's error and error_description.
//
// # Transport
//
// The org URL must be https (plain http only for loopback hosts); the
// default HTTP client verifies TLS certificates and, through http.Client's
// CheckRedirect, follows at most four redirects, each only to the same
// scheme and host with the same method (so the Authorization header never
// goes to another host). A body is read through io.LimitReader, at most
// 1 MiB; the pooled buffer that held it is zeroed before it is reused.
//
// Secrets (the API token, the private key, access tokens, client
// assertions, passwords, answers, temporary passwords and reset links) are
// held as secret.String and revealed only when the request is
// written; no error message or log line built here carries one. Text the
// server sends back may echo the request, so every field built from it (an
// APIError's Code, Summary, Link, ID, Causes and RequestID; a Response's
// RequestID, UserStatus and User strings) is passed through secret.Redact,
// as it is built, with every secret that request carried (the token or
// access token, the client assertion, the passwords and answers of its body,
// and the secrets its answer issued): each is replaced by [REDACTED] in its
// raw, JSON-escaped and URL-encoded spellings. The package logs nothing.
package okta
