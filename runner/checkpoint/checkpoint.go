// Package checkpoint owns credbatch's durable journal: the file that lets a
// stopped run resume from any instant (Ctrl-C, SIGTERM, kill -9, power loss)
// without sending a finished row again.
//
// # What it records
//
// A journal holds, in this order:
//
//   - one Header: the settings a resume must not change (org URL, manifest
//     fingerprint, --dry-run, the row-default flags, the report's path and
//     format); Header.Diff names the ones that differ;
//   - Attempt records, written and made durable before each POST of a
//     password-checking action, so a crash mid-request resumes as in_doubt
//     rather than as a second attempt;
//   - Outcome records, one per finished manifest row, made durable before the
//     row counts as done. Payload is opaque here: the runner stores the
//     encoded report row, so the report can be completed from the journal.
//     It holds secrets (temporary passwords, reset links); the file is created
//     O_EXCL with mode 0600 and this package never prints a payload.
//
// There is no exported Record type: Journal.Attempt and Journal.Outcome
// append the two kinds of record, Open summarises them in a State, and
// Journal.Replay streams the outcomes back.
//
// # File format
//
// The file is a sequence of frames, each
//
//	<len>\t<crc>\t<body>\n
//
// where <len> is the body's length in bytes as a decimal number (at most 8
// digits), <crc> is the CRC-32C (Castagnoli) of the body as 8 lowercase hex
// digits, and the body is one of
//
//	H\t<Header as JSON>                         (the first frame, and only there)
//	A\t<line>\t<n>\t<unix nanoseconds>\t<user ID>
//	R\t<line>                                   (the line's attempts so far did not apply)
//	O\t<line>\t<outcome>\t<payload bytes>
//
// with numbers in decimal. The last field of a body runs to the body's end,
// so a user ID or payload may hold any byte, newlines included. The length
// prefix, the checksum and the closing newline together detect a torn or
// corrupted frame.
//
// # Durability
//
// The journal is append-only. Attempt and Outcome return only once their
// record is on disk (write(2) then fsync). Callers that arrive together share
// one write and one fsync (group commit): one caller becomes the leader, writes
// every pending record with one write and one fsync, and wakes every caller
// whose record it covered; no goroutine is started. A failed write or fsync
// poisons the journal: that caller, every caller waiting on it and every later
// call get an error wrapping ErrJournal, because a record after a torn one
// could never be read back.
//
// Open recovers after a crash: it keeps the longest prefix of whole, valid
// frames and, when what follows is a torn tail (no frame that reads back
// whole starts anywhere after the first bad byte: all a crash in the middle
// of an append can leave), truncates the file there, fsyncs, and appends
// after it. Anything else is corruption and is refused with a *CorruptError
// (ErrCorrupt) naming the byte offset, the file left byte for byte as it
// was: a bad frame with a whole frame after it, a frame that reads back but
// does not decode, a first frame that is not a valid header (the file may
// not be a checkpoint at all). OpenReadOnly reads the valid prefix of a
// damaged file, for salvage, without changing it. recover.go says why the
// rule is drawn where it is.
//
// One run at a time holds a checkpoint: Create and Open take an exclusive
// flock(2) on the file (ErrLocked when another run holds it). Close releases
// it, and so does the kernel when the process dies.
package checkpoint

import (
	"errors"
	"strconv"
	"time"
)

// FormatVersion is the journal format this package writes and reads.
const FormatVersion = 1

// MaxLine is the largest manifest line number a record may carry.
const MaxLine = 1<<31 - 1

// Sentinel errors callers branch on.
var (
	// ErrLocked: another credbatch run holds the checkpoint's lock.
	ErrLocked = errors.New("checkpoint is in use by another credbatch run")
	// ErrJournal is wrapped by every write or fsync failure; the runner maps it
	// to exit status 4. Once returned, the Journal accepts no more records.
	ErrJournal = errors.New("checkpoint write failed")
	// ErrCorrupt: the file does not start with a valid checkpoint header, or a
	// record that was once durable no longer reads back (damage other than a
	// torn tail). Open and OpenReadOnly return a *CorruptError, which says
	// where; errors.Is(err, ErrCorrupt) holds for it.
	ErrCorrupt = errors.New("checkpoint is not readable")
	// ErrReadOnly: a record method was called on a journal opened by OpenReadOnly.
	ErrReadOnly = errors.New("checkpoint was opened read-only")
	// ErrFormat: the checkpoint was written in a format this build does not read.
	ErrFormat = errors.New("checkpoint format is not supported")
	// ErrClosed: the Journal was closed.
	ErrClosed = errors.New("checkpoint is closed")
	// ErrDuplicateOutcome: an outcome is already recorded for this line.
	ErrDuplicateOutcome = errors.New("checkpoint already holds an outcome for this line")
	// ErrInvalidRecord: the record cannot be written as given (negative line,
	// empty outcome, an outcome name holding a tab or newline, ...).
	ErrInvalidRecord = errors.New("checkpoint record is invalid")
)

// Header is the first record of a journal: the settings of the run that
// created it. A resume compares it with its own settings (Diff) and refuses
// to continue when they differ.
type Header struct {
	Format      int    `json:"format"`       // FormatVersion; Create fills it in when zero
	ToolVersion string `json:"tool_version"` // informational (not compared)
	OrgURL      string `json:"org_url"`      // normalised scheme://host
	// ManifestPath is informational (not compared): a manifest may move.
	ManifestPath   string `json:"manifest_path"`
	ManifestSHA256 string `json:"manifest_sha256"`
	ManifestSize   int64  `json:"manifest_size"`
	Rows           int    `json:"rows"`
	DryRun         bool   `json:"dry_run"`
	// The row-default flags as given on the command line ("" = not given).
	Action         string `json:"action"`
	SendEmail      string `json:"send_email"`
	RevokeSessions string `json:"revoke_sessions"`
	Strict         string `json:"strict"`
	ReportPath     string `json:"report_path"`
	ReportFormat   string `json:"report_format"`
	// EncryptTo is --encrypt-to as given, recipients sorted and joined by
	// commas ("" = not given: the secrets are stored in the clear).
	EncryptTo string `json:"encrypt_to,omitempty"`
}

// Mismatch is one header value that differs between the checkpoint and the
// current invocation. Field is the name a user knows ("--send-email",
// "manifest SHA-256", "org URL"); Checkpoint and Now are the two settings as
// a user would type them ("(not given)" for an absent flag).
type Mismatch struct {
	Field, Checkpoint, Now string
}

const notGiven = "(not given)"

func flagValue(s string) string {
	if s == "" {
		return notGiven
	}
	return s
}

// Diff returns the values that differ between h (read from the checkpoint)
// and now (this invocation), in a fixed order: checkpoint format, org URL,
// manifest SHA-256, manifest size, manifest rows, --dry-run, --action,
// --send-email, --revoke-sessions, --strict, --report, report format, --encrypt-to.
// ToolVersion and ManifestPath are not compared. An empty result means the
// run may resume.
func (h Header) Diff(now Header) []Mismatch {
	var out []Mismatch
	add := func(field, a, b string) {
		if a != b {
			out = append(out, Mismatch{Field: field, Checkpoint: a, Now: b})
		}
	}
	add("checkpoint format", strconv.Itoa(h.Format), strconv.Itoa(now.Format))
	add("org URL", h.OrgURL, now.OrgURL)
	add("manifest SHA-256", h.ManifestSHA256, now.ManifestSHA256)
	add("manifest size", strconv.FormatInt(h.ManifestSize, 10), strconv.FormatInt(now.ManifestSize, 10))
	add("manifest rows", strconv.Itoa(h.Rows), strconv.Itoa(now.Rows))
	add("--dry-run", strconv.FormatBool(h.DryRun), strconv.FormatBool(now.DryRun))
	add("--action", flagValue(h.Action), flagValue(now.Action))
	add("--send-email", flagValue(h.SendEmail), flagValue(now.SendEmail))
	add("--revoke-sessions", flagValue(h.RevokeSessions), flagValue(now.RevokeSessions))
	add("--strict", flagValue(h.Strict), flagValue(now.Strict))
	add("--report", h.ReportPath, now.ReportPath)
	add("report format", h.ReportFormat, now.ReportFormat)
	add("--encrypt-to", flagValue(h.EncryptTo), flagValue(now.EncryptTo))
	return out
}

// Attempt records that request number N for the row on manifest line Line is
// about to be sent to user UserID. It is durable before the POST of a
// password-checking action leaves.
type Attempt struct {
	Line   int
	UserID string
	N      int
	At     time.Time // stored with nanosecond precision, read back in UTC
}

// Outcome records that the row on manifest line Line finished. Outcome is the
// report's outcome name (no tab or newline); Payload is the encoded report row
// — opaque to this package, and secret.
type Outcome struct {
	Line    int
	Outcome string
	Payload []byte
}

// State is what Open learned from the journal.
type State struct {
	Header Header
	// Done holds the lines that have an outcome record.
	Done *Bitset
	// Counts is outcome name → number of lines with that outcome, across all
	// runs (a line counts once, by its first outcome record).
	Counts map[string]int
	// Attempts is line → number of attempt records, for the lines that have
	// attempt records but no outcome (a finished row's count is in its report row).
	Attempts map[int]int
	// LastAttempt holds the last attempt of each line that has attempt records
	// but NO outcome: requests that were in flight when the run stopped.
	LastAttempt map[int]Attempt
	// FirstAttempt holds the time of the first attempt of each line that
	// has attempt records but no outcome (its started_at on resume).
	FirstAttempt map[int]time.Time
	// Records is the number of attempt and outcome records read (the header
	// is not counted); TruncatedBytes is how much of a torn tail Open cut off
	// (0 after a clean stop), or OpenReadOnly would have.
	Records        int
	TruncatedBytes int64
	// Outcomes is the number of outcome records read: how many Replay
	// streams (Done.Count(), unless a line was recorded twice).
	Outcomes int
	// Damage is set only by OpenReadOnly, when the file is damaged other than
	// by a torn tail: the State then describes the readable prefix before
	// Damage.Offset. Open refuses such a file instead.
	Damage *CorruptError
}
