// Package pace owns how fast credbatch talks to Okta, apart from how a request
// is made: one token bucket over all requests, a pacer per Okta rate-limit
// bucket steered by the X-Rate-Limit-* headers (first-response gate,
// --max-share spacing, 429 pauses), an AIMD in-flight limit for Okta's
// concurrency limit, and the retry policy (Decide, Backoff).
//
// The package is pure logic over plain types: the runner converts each Okta
// answer into an Observation and hands it back through Ticket.Done. Time is
// read with time.Now and waited on with timers, so tests run it under
// testing/synctest.
//
// # Choices made where SPEC.md leaves room
//
//   - New window: when the local clock passes a window's Reset (or after any
//     pause), the bucket knows nothing about the new window, so it lets exactly
//     one request probe it; the probe's answer names the new window (Limit,
//     Remaining, Reset) and the share rule takes over. This costs one round
//     trip per window (about a minute) and never sends a burst into a window
//     whose state is unknown. The probe is not held back by the share rule
//     (nothing is known to hold it against), so a bucket sends at least one
//     request per window.
//   - Server times (Reset, Retry-After) are converted to the local clock with
//     offset = max(Date − Received) over the answers that carried a Date in
//     the last offsetSeconds seconds (the best sample of each local second is
//     kept, so a fast run does not push out the tight samples taken just after
//     a second boundary). Every sample is a lower bound of the true offset (Date is truncated
//     to the second and the answer travelled before Received), so the
//     converted local instants are never earlier than the true ones: credbatch
//     errs on waiting slightly longer. An answer without Date is measured
//     against the local clock (offset 0), as SPEC.md says.
//   - A rate-limit 429 pauses its bucket until the later of Reset and
//     Retry-After, and for at least MinPause. A concurrency 429 (Limit and
//     Remaining both 0) halves the in-flight limit (never below 1), pauses only
//     its bucket for ConcurrencyCooldown, and leaves the window state alone;
//     the limit rises by one after IncreaseAfter answers that were not
//     concurrency 429s, never above Workers.
//   - After a pause, requests leave spaced out: one probe first, then the
//     share rule's spacing; if the answers carry no usable rate headers, a
//     fallback spacing of window/Limit (window estimated from consecutive
//     Resets, 60 s by default) applies until they do.
//   - The share of a window is floor(Limit·MaxShare/100), but at least one
//     request, so that a tiny Limit cannot stop the run for good.
//   - Fair share (issue 18): the share promises the org's other integrations
//     (the others) that everyone's use stays within it, so credbatch may
//     spend only what is left of it once the others have what they will
//     still send until Reset: left = share − used − requests in flight −
//     reserve, where reserve is the others' rate times the time from the
//     departure of the request whose answer said used until Reset, rounded
//     up. What is left is spread evenly until Reset, as if one more were due
//     (so the last leaves before Reset, and what the reserve frees as the
//     window runs out is still used). The others' rate is estimated from how
//     used moves beyond credbatch's own requests (others.go): each answer is
//     a sample keyed by its request's departure, so answers out of order and
//     requests in flight do not disturb it; a steady rate is measured over
//     many seconds (carried from window to window), and a change — a stop, a
//     surge, a burst — shows within a horizon of answers (a second, or a
//     tenth of a shorter window). While a window is young (its answers span
//     less than a horizon), the rate is at least the one the window before
//     ended with, or with nothing before it, what the answers show over at
//     least a quarter horizon. When only an estimate that has the others
//     alone passing the share holds the bucket back (a burst, most likely),
//     one request a horizon goes to see whether the burst went on. With no
//     others, nothing is reserved and the rule is the plain share rule.
//   - No wait longer than Config.MaxWait (--max-wait, 15 minutes by
//     default): when a 429's Reset or Retry-After, a share spent until a
//     distant Reset, or the share spread until one would hold a bucket's
//     next request longer, Acquire returns a *WaitTooLongError (naming the
//     bucket, the local time it would wait until and why) instead of
//     waiting, so that a hostile or broken server cannot stall the run; the
//     runner stops the run on it. A wait of exactly MaxWait is waited out.
//   - Inconsistent headers are tolerated: Remaining is clamped to 0..Limit; an
//     answer whose Limit is 0 (and is not a concurrency 429), or whose Reset is
//     not after its own Date, carries no window information; an answer naming
//     an older window than the one known is stale and ignored.
package pace
