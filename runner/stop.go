package runner

import (
	"context"
	"errors"
	"log/slog"
	"sync"
)

// ErrStopped is wrapped by the error Run returns when it stopped on purpose
// (401, systemic 403, --halt-on): exit status 3. The unsent rows stay pending.
var ErrStopped = errors.New("run stopped")

// StopError says why a run stopped on purpose and what fixes it.
type StopError struct {
	Reason string // what happened, e.g. "Okta answered 401 E0000011"
	Hint   string // what to do before rerunning the same command
}

func (e *StopError) Error() string { return "stopped: " + e.Reason }

// Is makes errors.Is(err, ErrStopped) true.
func (e *StopError) Is(target error) bool { return target == ErrStopped }

// stopper ends a run early. stop (the run's own reasons: 401, systemic 403,
// --halt-on; exit 3) and stopFeeding (a local failure that the requests on
// the wire may still finish through) end the feeding; abandon (a failed
// journal write or seal) also abandons the requests on the wire. Run arms it
// with the cancel functions of its two contexts.
type stopper struct {
	log              *slog.Logger
	endFeed, endHard context.CancelCauseFunc

	mu  sync.Mutex
	err *StopError // the run's own stop: the first
}

// arm gives the stopper the run's logger and the cancel functions of
// its two contexts.
func (s *stopper) arm(logger *slog.Logger, endFeed, endHard context.CancelCauseFunc) {
	s.log, s.endFeed, s.endHard = logger, endFeed, endHard
}

// stop ends feeding for a reason of the run's own (exit 3). The first wins.
func (s *stopper) stop(err *StopError) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
		s.log.Warn("stopping: no new requests will start", "reason", err.Reason)
	}
	s.mu.Unlock()
	s.endFeed(err)
}

// stopFeeding ends feeding for a local failure; the requests on the wire
// finish and are recorded.
func (s *stopper) stopFeeding(err error) { s.endFeed(err) }

// abandon ends feeding and abandons the requests on the wire: a local
// failure after which nothing more can be recorded.
func (s *stopper) abandon(err error) {
	s.endFeed(err)
	s.endHard(err)
}

// stopError is the run's own stop, or nil.
func (s *stopper) stopError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return nil // not a nil *StopError in an error
	}
	return s.err
}

// why is the reason a request was left unsent: the run's own stop, else the
// cause of feed's end.
func (s *stopper) why(feed context.Context) error {
	if err := s.stopError(); err != nil {
		return err
	}
	return context.Cause(feed)
}

// systemic watches for the systemic-403 rule: the first five jobs to finish
// all answered 403 E0000006 (the token lacks the permission). Its zero value
// is ready; it is safe for concurrent use.
type systemic struct {
	mu       sync.Mutex
	finished int  // jobs whose action got a final HTTP answer, up to systemicN
	other    bool // one of them answered something else: the rule cannot trip
}

const systemicN = 5

// observe counts one job's final answer and returns true when it trips the
// rule.
func (s *systemic) observe(status int, code string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished >= systemicN {
		return false
	}
	s.finished++
	if status != 403 || code != "E0000006" {
		s.other = true
		return false
	}
	return !s.other && s.finished == systemicN
}
