// Package emulator owns credbatch's in-memory Okta org: an http.Handler that
// answers GET /api/v1/users/{id}, GET /api/v1/users/me, the seven credential
// POSTs and DELETE /api/v1/users/{userId}/sessions the way Okta's Management
// API does, with switchable rate limits and faults and a request log that
// tests and bench scripts can assert on.
//
// It uses the standard library only and imports no other credbatch package:
// it is an independent implementation of Okta's contract
// (testdata/okta/credentials-api.yaml, a copy of Okta's excerpt), so a mistake in credbatch's client
// is not mirrored here. Its tests hold every success answer to that document.
//
// # Endpoints
//
//	GET    /api/v1/users/{id}            getUser (id, login, or unambiguous login short name)
//	GET    /api/v1/users/me              getMe (the token's owner: the first user)
//	POST   /api/v1/users/{id}/lifecycle/expire_password                     expirePassword
//	POST   /api/v1/users/{id}/lifecycle/expire_password_with_temp_password  expirePasswordWithTempPassword (?revokeSessions)
//	POST   /api/v1/users/{id}/lifecycle/reset_password                      resetPassword (?sendEmail required, ?revokeSessions)
//	POST   /api/v1/users/{id}/credentials/forgot_password                   forgotPassword (?sendEmail, default true)
//	POST   /api/v1/users/{id}/credentials/forgot_password_recovery_question forgotPasswordSetNewPassword (?sendEmail)
//	POST   /api/v1/users/{id}/credentials/change_password                   changePassword (?strict)
//	POST   /api/v1/users/{id}/credentials/change_recovery_question          changeRecoveryQuestion
//	DELETE /api/v1/users/{id}/sessions                                      revokeUserSessions (?oauthTokens)
//	POST   /oauth2/v1/token              OAuth 2.0 client credentials with private_key_jwt (and DPoP)
//	GET    /_emulator/log                the request log as JSONL (no auth; secrets included)
//	GET    /_emulator/stats              Stats as JSON (no auth)
//
// {id} is resolved in this order everywhere: an exact user ID (case-sensitive),
// a login (case-insensitive), a login short name — the part before "@" — when
// exactly one user has it (case-insensitive).
//
// # Order of checks
//
// For a request under /api: method (405 E0000022 with Allow), a POST without
// a Content-Length header (411, JSON body without errorCode: Okta's edge
// answers this one), authorization (`SSWS <token>` or `Bearer <token>`;
// `DPoP <token>` with a valid proof, see OAuth below; anything else 401
// E0000011 "Invalid token provided"), an
// unknown path (404 E0000007), concurrency limit, Latency+Jitter, the rate-limit window, the
// 5xx fault, body and query validation (400 E0000003 for malformed JSON, 400
// E0000001 with errorCauses for a missing or bad field or parameter), the
// user (404 E0000007 "Not found: Resource not found: <id> (User)"), the
// user's status (403 E0000038 "This operation is not allowed in the user's
// current status."), credential checks (403 E0000014 "Update of credentials
// failed" with errorCauses), then the change, then the drop fault.
//
// # Which statuses each operation accepts
//
// "pw" means the user has an Okta password credential (provider OKTA and a
// non-empty password); "rq" means a recovery question is set. A user whose
// provider is FEDERATION has neither, so every credential operation but
// revokeUserSessions answers 403 E0000038 for them.
//
//	operation                          statuses                                   needs    → new status
//	expire_password                    ACTIVE PASSWORD_EXPIRED RECOVERY LOCKED_OUT pw      → PASSWORD_EXPIRED
//	expire_password_with_temp_password ACTIVE PASSWORD_EXPIRED RECOVERY LOCKED_OUT pw      → PASSWORD_EXPIRED, password := temp password
//	reset_password                     ACTIVE PASSWORD_EXPIRED RECOVERY LOCKED_OUT OKTA    → RECOVERY
//	forgot_password                    ACTIVE                                     pw rq    unchanged (the excerpt: "doesn't affect the status")
//	forgot_password_set_new_password   ACTIVE                                     pw rq    → ACTIVE, password := new (answer must match, case-insensitive)
//	change_password                    STAGED ACTIVE PASSWORD_EXPIRED RECOVERY    pw       RECOVERY/PASSWORD_EXPIRED → ACTIVE (old password must match)
//	change_recovery_question           STAGED ACTIVE RECOVERY                     pw       unchanged (password must match)
//	clear_sessions (DELETE sessions)   every status but DEPROVISIONED             —        unchanged, 204
//
// Documented by Okta (the excerpt's operation descriptions): forgot_password
// (ACTIVE, recovery question), change_password and change_recovery_question
// (their status lists and the password credential), the RECOVERY → ACTIVE
// transition of change_password, RECOVERY after reset_password and
// PASSWORD_EXPIRED after both expire operations. Assumptions (Okta does not
// say): the status lists of both expire operations and of reset_password
// (PROVISIONED is not accepted: the excerpt does not document it; such a
// user is reactivated, not reset), PASSWORD_EXPIRED → ACTIVE after
// change_password, forgot_password_set_new_password's ACTIVE-only rule and
// its ACTIVE result, and clear_sessions' rule. The user's `_links` carry
// expirePassword, resetPassword, forgotPassword, changePassword and
// changeRecoveryQuestion exactly when this table allows the operation; plus
// self, and (as status links) activate for STAGED, reactivate for
// PROVISIONED, suspend for ACTIVE, unsuspend for SUSPENDED, unlock for
// LOCKED_OUT, and deactivate for every status but DEPROVISIONED.
//
// Credential checks (403 E0000014 "Update of credentials failed"): a wrong old
// or current password ("Old Password is not correct" / "Password is not
// correct"), a wrong recovery answer ("The recovery question answer did not
// match our records."). change_password with strict=true also refuses a new
// password equal to the old one ("Password has been used too recently") or
// shorter than 8 characters ("Password requirements were not met. Password
// requirements: at least 8 characters."); without strict both are accepted.
//
// # Secrets
//
// Every expire_password_with_temp_password issues a fresh 12-character temp
// password (letters, digits and one symbol) that becomes the user's password;
// every reset_password and forgot_password issues a fresh reset URL
// `<scheme>://<request Host>/signin/reset-password/<20 random characters>`
// and the user's previous URL stops working (ResetURLValid). With
// sendEmail=true (forgot_password's default) the answer is `{}`, the link is
// "emailed" (LogEntry.Emailed; LogEntry.Secret stays empty) and LastSecret
// still returns it. Secrets come from a random generator seeded by
// Config.Seed. forgot_password_set_new_password and change_password also
// invalidate an outstanding reset URL. Answers: expire_password returns the
// User; expire_password_with_temp_password `{"tempPassword"}`;
// reset_password and forgot_password `{"resetPasswordUrl"}` or `{}`; the
// three credential updates return UserCredentials (password {}, the
// recovery question, the provider).
//
// # Generated users (GenerateUsers)
//
// User 0 is the token's owner: login admin@example.com, ACTIVE, OKTA. User i
// (1 ≤ i < n) has login userNNNNN@example.com (i with five digits, e.g.
// user00001@example.com), the same email, firstName "User", lastName
// "NNNNN". IDs are "00u" + 17 characters drawn from the seed (the only thing
// the seed changes). Rules, by i:
//
//	status:   i%50 == 7 STAGED, 13 PROVISIONED, 19 PASSWORD_EXPIRED, 23 RECOVERY,
//	          29 LOCKED_OUT, 37 SUSPENDED, 43 DEPROVISIONED; otherwise ACTIVE (86%)
//	provider: i%20 == 11 FEDERATION (5%; no password, no recovery question; always ACTIVE)
//	question: i%10 == 4 no recovery question (10%; always ACTIVE, OKTA)
//
// Every other user (admin included) has the password "Pw-<short name>-1!"
// (e.g. "Pw-user00001-1!", "Pw-admin-1!"), the recovery question
// "What is your favorite color?" and the answer "blue-<i>" (e.g. "blue-1";
// "blue-0" for the admin). These are the state at creation: the Org's state
// changes as requests apply (see Users and User).
//
// # Rate limits and faults
//
// Two buckets are counted: BucketCredentials (the seven POSTs and DELETE
// sessions) and BucketUsers (GET /api/v1/users/{id} and /me), in fixed windows
// aligned on whole multiples of Config.Window since the Unix epoch. Every
// answer under /api carries X-Rate-Limit-Limit, -Remaining (Limit minus the
// window's use) and -Reset (the window's end, epoch seconds rounded up); an
// unlimited bucket reports Limit UnlimitedLimit. When a window's use reaches
// its limit the request gets 429 E0000047 and nothing is applied; a 429 is
// not use. 401, 405 and 411 answers carry the bucket's headers but are not
// counted. With ConcurrencyLimit, a request arriving while that many are in
// flight gets 429 E0000047 with Limit and Remaining 0 (not counted either).
// Faults (credential bucket only, drawn from the seeded generator): 5xx
// answers 500/502/503/504 E0000009 before anything is applied; a drop applies
// the request (whatever its outcome), logs it with Dropped and closes the
// connection without an answer.
//
// Org.Close lets go of every request held in a Latency wait (they end
// without an answer), so a server serving the Org can always shut down
// quickly: tests register t.Cleanup(org.Close) after t.Cleanup(srv.Close).
//
// # OAuth 2.0: access tokens for service apps
//
// Config.Clients registers service apps (OAuthClient: ID, public key, granted
// scopes, RequireDPoP). POST /oauth2/v1/token takes
// grant_type=client_credentials, scope (space-separated, each granted), and
// client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
// with a client_assertion signed RS256 or ES256 by the app's key, whose iss
// and sub are the client ID, aud the token endpoint's URL, with exp (after
// now, at most an hour after iat), iat, and a jti never used before (and kid
// equal to OAuthClient.KeyID when that is set). Failures answer as Okta's
// authorization server does, `{"error","error_description"}`: 401
// invalid_client (assertion, key, client), 400 invalid_scope,
// unsupported_grant_type, invalid_request, and for DPoP apps 400
// invalid_dpop_proof (no or bad proof) and 400 use_dpop_nonce with a
// DPoP-Nonce header (a proof without the current nonce: the token endpoint
// always requires one). Success: `{"token_type":"Bearer"|"DPoP",
// "expires_in","access_token","scope"}`; tokens live Config.TokenLifetime
// (default one hour), and a DPoP token is bound to the proof key's RFC 7638
// thumbprint.
//
// API calls accept `Bearer <access token>` for Bearer tokens and `DPoP
// <access token>` plus a DPoP header for DPoP-bound ones. The proof (typ
// dpop+jwt, jwk of the public key, RS256 or ES256) must carry htm = the
// method, htu = scheme://host/path (no query), iat within a minute of now, a
// jti never used before, ath = base64url(SHA-256(access token)), and the key
// the token is bound to; otherwise 400 with no body and `WWW-Authenticate:
// DPoP error="invalid_dpop_proof", error_description="..."`. A nonce, when
// present — and always with Config.RotateNonces — must be the current (or
// previous) one, else 401 with no body, `WWW-Authenticate: DPoP
// error="use_dpop_nonce"` and the nonce in DPoP-Nonce. With RotateNonces the
// nonce changes silently after every three accepted proofs. An unknown,
// expired or wrongly presented access token gets 401 E0000011 with
// `WWW-Authenticate: <scheme> error="invalid_token"`. GET /api/v1/users/me
// with an access token answers 404 (a service app is no user).
// /_emulator/stats counts the token endpoint's requests, issued tokens,
// nonce challenges and rejected proofs (Stats.Token); AccessTokens lists the
// issued tokens and ExpireAccessTokens ends them all.
package emulator
