// Package emulator owns credbatch's in-memory Okta org: an http.Handler that
// answers GET /api/v1/users/{id}, GET /api/v1/users/me, the seven credential
// POSTs and DELETE /api/v1/users/{userId}/sessions, the user, group and app
// listings the way Okta's Management API does, with switchable rate limits
// and faults and a request log that tests and bench scripts can assert on.
//
// It uses the standard library only and imports no other credbatch package:
// it is an independent implementation of Okta's contract
// (testdata/okta/credentials-api.yaml, a copy of Okta's excerpt, and
// emulator/testdata/listing-api.yaml, the excerpt of the listing calls), so
// a mistake in credbatch's client is not mirrored here. Its tests hold every
// success answer to those documents.
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
//	GET    /api/v1/users                 listUsers (search, filter, q, limit, after)
//	GET    /api/v1/groups                listGroups (search, filter, q, limit, after)
//	GET    /api/v1/groups/{groupId}      getGroup
//	GET    /api/v1/groups/{groupId}/users  listGroupUsers (limit, after)
//	GET    /api/v1/apps/{appId}/users    listApplicationUsers (q, expand=user, limit, after)
//	GET    /api/v1/logs                  listLogEvents: the System Log (since, until, filter, q, limit, after, sortOrder)
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
// unknown path (404 E0000007), an access token's scope (listings and the
// System Log: 403 E0000006), concurrency limit, Latency+Jitter, the rate-limit window, the
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
// # Listings
//
// Every listing is ordered by ID and paged by a cursor: `after` is the last
// ID of the previous page (any string works: the page starts at the first
// ID above it). Every answer carries `Link: <URL>; rel="self"` (the
// request's own URL) and, when the page is full, `Link: <URL>; rel="next"`:
// the same query with `after` set, as an absolute URL on the request's
// Host. A full last page has a next link too, and the page it names is
// empty (an assumption: Okta does not say; a client must accept an empty
// last page). `limit` defaults and maxima, from Okta's documents: users 200
// and 200 (10 with q); groups 10000 and 10000 (300 with q); group members
// 1000 and 1000 (Okta names no maximum: an assumption); app users 50 and
// 500. A larger limit is lowered to the maximum; a limit that is not a
// whole number of at least 1 answers 400 E0000001.
//
// GET /api/v1/users without search and filter leaves DEPROVISIONED users
// out, as Okta does; with either it does not. q (a prefix of firstName,
// lastName or email, ignoring case; DEPROVISIONED left out) is not paged:
// no next link, as Okta documents. search and filter together answer 400
// (an assumption); q is ignored when either is given.
//
// search and filter are expressions: comparisons `ATTR OP "VALUE"` (or a
// number, true, false, null; `ATTR pr` tests presence), joined by `and`
// and `or` (`and` binds tighter), with parentheses; operators and `and`/`or`
// in any case, attribute names exact. Timestamps compare as instants and
// must be RFC 3339 ("2026-01-02T03:04:05.000Z"); an attribute that holds a
// list (a custom profile attribute) matches when one element does.
//
//	users  search: any profile.* attribute, id, status, created, activated,
//	       statusChanged, lastUpdated; eq sw co gt ge lt le pr; co only on
//	       profile.firstName/lastName/email/login; ne and ew refused (Okta:
//	       "The ne operator isn't supported"). Values ignore case.
//	users  filter: status, lastUpdated, id, profile.login, profile.email,
//	       profile.firstName, profile.lastName with eq; lastUpdated also gt
//	       ge lt le. Values are exact (Okta: "case-sensitive for property
//	       names and query values").
//	groups search: any profile.* attribute (name, description), id, type,
//	       created, lastUpdated, lastMembershipUpdated; eq sw co gt ge lt le
//	       pr; co only on profile.name and profile.description. Values
//	       ignore case.
//	groups filter: id, type with eq; lastUpdated, lastMembershipUpdated
//	       with eq gt ge lt le. Values are exact.
//
// An expression that does not parse, or uses an attribute or operator its
// parameter does not take, answers 400 E0000031 "Invalid search criteria."
// with one errorCause saying what and where (Okta's summary; the cause's
// wording is the emulator's). Okta's search is eventually consistent; the
// emulator's is not.
//
// Groups are Okta Group objects (objectClass okta:user_group, type,
// profile {name, description}, _links self/users/apps); members are User
// objects, DEPROVISIONED ones included. An unknown group answers 404
// E0000007 "Not found: Resource not found: <id> (UserGroup)", an unknown app
// "... (AppInstance)". App users are AppUser objects: id (the user's ID),
// scope USER (assigned directly) or GROUP (through a group), status ACTIVE,
// or DEPROVISIONED for a deprovisioned user (an assumption: Okta does not
// document the mapping), syncState DISABLED, credentials.userName (the
// login), profile {email, firstName, lastName}, _links app and user, no
// externalId (an SSO assignment has none), and `_embedded.user` (the User)
// only with expand=user. q on app users is a prefix of the login,
// firstName, lastName or email.
//
// # Evidence: timestamps and the System Log
//
// The User object carries created, activated, statusChanged, lastUpdated
// and passwordChanged (RFC 3339 with milliseconds, as Okta; times are the
// org's clock, Config.Now, cut to the millisecond when stored, so a
// search with a served value finds exactly what it says). statusChanged
// moves when the status changes; passwordChanged when the password does
// (expire_password_with_temp_password, forgot_password_set_new_password,
// change_password); lastUpdated on every operation that applies, except
// forgot_password and DELETE sessions, which change nothing of the user
// (an assumption). passwordChanged is null for a user without a password;
// credentials.recovery_question.question is the current question (after
// change_recovery_question, the new one). Org.Times gives the same times.
//
// Every applied operation publishes a System Log event (Okta's types):
//
//	user.account.expire_password   both expire operations
//	user.account.reset_password    reset_password
//	user.account.update_password   change_password, forgot_password_set_new_password
//	user.session.clear             DELETE sessions
//
// change_recovery_question and forgot_password publish none (Okta logs none
// known). change_password and forgot_password_set_new_password refused by a
// credential check (403 E0000014) publish their event with outcome FAILURE
// and the cause as reason (an assumption); other refusals publish nothing.
// A request that the drop fault closes after applying publishes its event
// all the same. An event is Okta's LogEvent: uuid (a version 4 UUID from the
// seeded generator), published (the request's time), eventType, version
// "0", severity INFO, displayMessage (the emulator's wording, after Okta's
// catalog), actor (the API token's owner, type User; for an OAuth access
// token the app: type PublicClientApp, id the client ID), client
// (userAgent.rawUserAgent), outcome {result, reason},
// target [{id, type "User", alternateId = login, displayName}],
// transaction {type "WEB", id = the X-Okta-Request-Id of the request that
// caused it}, debugContext.debugData {requestId, requestUri, url}. Org.Events
// lists every event.
//
// GET /api/v1/logs shows an event from Config.LogDelay after it is
// published (the System Log is eventually consistent; default 0). since
// (inclusive; default until minus 7 days) and until (exclusive; which
// bound includes is an assumption) are RFC 3339 timestamps; a query with
// until is bounded: its pages end, the last one without a next link when
// it is not full. A query without until is a
// polling query: it shows every visible event since, and always has a next
// link (as Okta: follow it later for newer events). limit defaults to 100,
// at most 1000; sortOrder ASCENDING (default, by published) or DESCENDING;
// after is the opaque cursor of a next link. filter takes eventType, uuid,
// published, severity, displayMessage, outcome.result, outcome.reason,
// actor.id/type/alternateId/displayName, target.id/type/alternateId/
// displayName (target.id eq "X" matches an event about user X),
// transaction.id and transaction.type, with every operator (eq ne sw co
// ew gt ge lt le pr; published as a timestamp), and/or and parentheses;
// values compare exactly. q keeps events holding every keyword (ignoring
// case) in their type, message, outcome, target or actor. A bad filter
// answers 400 E0000031; a bad since, until, sortOrder, limit or after 400
// E0000001.
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
// "blue-0" for the admin). Every generated user is in the group "Everyone"
// (type BUILT_IN); i%4 == 1 also in "Contractors", i%10 == 2 in "Finance";
// i%3 == 0 (the admin included) is assigned the app "Payroll". These are
// the state at creation: the Org's state changes as requests apply (see
// Users and User).
//
// # Users, groups and apps files (LoadUsers, LoadDirectory)
//
// LoadUsers reads a JSON array of users; LoadDirectory reads that array, or
// an object {"users": [...], "groups": [...], "apps": [...]}:
//
//	{"users": [
//	   {"id": "00u...17 chars", "login": "ann@corp.example", "email": "ann@corp.example",
//	    "firstName": "Ann", "lastName": "Lee", "status": "ACTIVE", "provider": "OKTA",
//	    "password": "...", "recoveryQuestion": "...", "recoveryAnswer": "...",
//	    "profile": {"department": "Finance", "costCenter": "F-12", "badges": ["b1", "b2"], "level": 3},
//	    "groups": ["00g...17 chars", "Contractors"], "apps": ["Payroll"]}],
//	 "groups": [{"id": "00g...17 chars", "name": "Incident responders", "description": "...", "type": "OKTA_GROUP"}],
//	 "apps":   [{"id": "0oa...17 chars", "label": "Payroll", "name": "payroll", "groups": ["Finance"]}]}
//
// Only id and login are required of a user (status defaults to ACTIVE,
// provider to OKTA). profile holds custom attributes (strings, numbers,
// booleans, null, arrays of strings; the attributes of Okta's base profile,
// such as department or costCenter, are strings); they are served in the
// User's profile and searchable. A user's groups name groups by ID or name
// (ignoring case) and its apps name apps by ID or label; a name that no
// declared group or app has makes one, with an ID derived from the name
// (stable across runs; "Everyone" is made with type BUILT_IN). An app's
// groups assign their members to it (scope GROUP). Config.UserList,
// Config.Groups and Config.Apps take the three lists; GroupMembers and
// AppUsers say who is in each.
//
// # Rate limits and faults
//
// Five buckets are counted: BucketCredentials (the seven POSTs, DELETE
// sessions and GET /api/v1/users: Okta's /api/v1/users bucket, limit
// Config.PostLimit), BucketUsers (GET /api/v1/users/{id} and /me,
// GetLimit), BucketGroups (every /api/v1/groups call, GroupLimit),
// BucketApps (every /api/v1/apps call, AppLimit) and BucketLogs (GET
// /api/v1/logs, LogLimit; Okta allows 20-120 a minute), in fixed windows
// aligned on whole multiples of Config.Window since the Unix epoch. Every
// answer under /api carries X-Rate-Limit-Limit, -Remaining (Limit minus the
// window's use) and -Reset (the window's end, epoch seconds rounded up); an
// unlimited bucket reports Limit UnlimitedLimit. When a window's use reaches
// its limit the request gets 429 E0000047 and nothing is applied; a 429 is
// not use. 401, 405 and 411 answers carry the bucket's headers but are not
// counted. With ConcurrencyLimit, a request arriving while that many are in
// flight gets 429 E0000047 with Limit and Remaining 0 (not counted either).
// Faults (credential bucket only, listing users included, drawn from the
// seeded generator): 5xx answers 500/502/503/504 E0000009 before anything
// is applied; a drop applies the request (whatever its outcome), logs it
// with Dropped and closes the connection without an answer.
//
// The neighbour (Config.Neighbour, NeighbourSchedule, Org.SetNeighbour;
// `credbatch mock --neighbour R`) is another integration of the org using
// BucketCredentials without sending anything: R requests a second, a step
// function of the org's clock (from its creation; a schedule changes the
// rate at given times, SetNeighbour from now on, 0 stops it). Its use is
// computed when a window is looked at, from the time elapsed in it — no
// goroutine, exact under a fake clock: each of its requests takes room
// left in the window (counted in Remaining and against the limit, so
// clients meet 429s it causes), and those that find none are its own 429s.
// WindowStat.Neighbour and NeighbourRejected count them; MaxShare and the
// other figures count everyone's use (Used + Neighbour). Windows and peeks
// of the credential bucket bring the neighbour's count up to now; a window
// that no client request or peek touched is not listed.
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
// with an access token answers 404 (a service app is no user). The listings
// and the System Log check the token's scopes (the older calls do not):
// okta.users.read (or .manage) for GET /api/v1/users, okta.groups.read (or
// .manage) for groups, okta.apps.read (or .manage) for apps,
// okta.logs.read for the System Log; without it, 403 E0000006 "You do not
// have permission to perform the requested action" with `WWW-Authenticate:
// <scheme> error="insufficient_scope", ..., scope="<the scope>"`, not
// counted.
// /_emulator/stats counts the token endpoint's requests, issued tokens,
// nonce challenges and rejected proofs (Stats.Token); AccessTokens lists the
// issued tokens and ExpireAccessTokens ends them all.
package emulator
