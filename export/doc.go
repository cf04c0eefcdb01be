// Package export builds a manifest from the org itself (SPEC.md "Building
// a manifest"): a source (a group's members, a search or filter of users,
// an app's assigned users, every user) is listed page by page through the
// pacer, each user becomes one row (user, login, email, first_name,
// last_name, status, then action and the row defaults when asked), and
// the rows are written to OUT.partial, which becomes OUT when the listing
// ends.
//
// Stages, one a file: source.go (what is listed, and a group's name
// resolved to exactly one group), fetch.go (one request at a time through
// runner/pace, with run's 429 and retry rules), rows.go (which statuses
// are kept, the columns and their CSV or JSONL encoding), partial.go
// (OUT.partial: created new and locked, verified and cut back on a
// resume), state.go (OUT.partial.state: the checkpoint), export.go (the
// loop).
//
// # Resuming
//
// After each page, its rows are appended to OUT.partial and fsynced; then
// the state file (written aside, fsynced, renamed over the old one) records
// the next link exactly as Okta gave it, the pages and users so far, the
// length of OUT.partial and the SHA-256 of those bytes. Interrupted at any
// instant (Ctrl-C and SIGTERM stop between pages; kill -9 or a power cut
// anywhere), the same command reads the state, checks that OUT.partial
// holds those bytes, cuts what follows them (the rows of a page whose
// state was never saved), rebuilds the set of users written from the file,
// and asks for the saved next link: no page is fetched twice but the one
// in flight, no user is written twice. A state of other settings (source,
// statuses, format, action and row defaults, org) is refused.
//
// A new export creates nothing until its group is resolved and its first
// page has arrived, so that a refused expression, an unknown or ambiguous
// group, an unknown app leave no file. OUT is never overwritten: the
// complete OUT.partial is hard-linked to OUT (renamed where links are not
// supported), then removed. A listing that leaves no user to write writes
// no manifest (ErrEmpty).
package export
