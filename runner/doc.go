// Package runner turns validated jobs into Okta calls and outcomes.
//
// It owns the pipeline of a run: one feeder reading the manifest in order,
// resolvers that turn logins into user IDs (GET /api/v1/users/{login}), a
// sequencer that applies the rules of SPEC.md "Users" in manifest order
// (excluded users, the token's own user, duplicates after resolution, one
// user's rows one at a time), executors that send the action through the
// pacer with the retry policy of runner/pace, and a recorder that makes each
// outcome durable in the checkpoint before it is appended to the report.
//
// runner is the only package in which a job's action becomes an Okta call.
//
// Stops only stop feeding. The run takes two contexts: feed, whose end (first
// Ctrl-C, SIGTERM, or a stop the run decides itself: 401, systemic 403,
// --halt-on) stops new work from starting while requests already on the wire
// finish and are recorded; and hard, whose end (second Ctrl-C, a failed
// journal write) abandons the requests on the wire — a resume settles them.
// Each stage takes the contexts and channels it uses as arguments.
//
// One stage, one file:
//
//	runner.go      the wiring: Options, Input, New, Run; the feeder
//	users.go       the Users rules: the token's own user and --exclude
//	               (prepare), the resolvers and the login check, the
//	               sequencer (exclusions, self, duplicates, one row per user
//	               at a time)
//	execute.go     the executors: a row's action sent, its outcome decided
//	send.go        one request through the pacer and the retry policy
//	record.go      the recorder: outcomes durable in the checkpoint, then
//	               the report; --halt-on (trips) and --encrypt-to (seal)
//	stop.go        the run's early ends: StopError, the stopper, the
//	               systemic-403 rule
//	call.go        an action as an Okta call; which actions repeat and which
//	               hold a slot
//	dryrun.go      a dry run's verdict from the user Okta returned
//
// The kill tests' crash points (crashpoint.Hit) live in internal/crashpoint.
package runner
