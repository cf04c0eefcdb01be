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
// Secrets (the API token, passwords, answers, temporary passwords and reset
// links) are held as secret.String and revealed only when the request is
// written; no error message or log line built here carries one.
package okta
