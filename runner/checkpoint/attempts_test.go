package checkpoint

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// ReplayAttempts yields every attempt and release record in file order,
// those of finished lines included, from a journal opened for writing or
// read-only, and stops at fn's first error.
func TestReplayAttempts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp")
	j := mustCreate(t, path, testHeader())
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	want := []AttemptRecord{
		{Attempt: Attempt{Line: 2, UserID: "00uaaaaaaaaaaaaaaaaa", N: 1, At: at}},
		{Attempt: Attempt{Line: 3, UserID: "00ubbbbbbbbbbbbbbbbb", N: 1, At: at.Add(time.Millisecond)}},
		{Attempt: Attempt{Line: 2}, Release: true},
		{Attempt: Attempt{Line: 2, UserID: "00uaaaaaaaaaaaaaaaaa", N: 2, At: at.Add(time.Hour)}},
	}
	for _, r := range want {
		var err error
		if r.Release {
			err = j.Release(r.Line)
		} else {
			err = j.Attempt(r.Attempt)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Line 2 finishes: its attempts are still replayed.
	if err := j.Outcome(Outcome{Line: 2, Outcome: "in_doubt", Payload: payload(2)}); err != nil {
		t.Fatal(err)
	}
	if err := j.Note(Attempt{Line: 4, UserID: "00uccccccccccccccccc", N: 1, At: at.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	want = append(want, AttemptRecord{Attempt: Attempt{Line: 4, UserID: "00uccccccccccccccccc", N: 1, At: at.Add(2 * time.Hour)}})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	ro, _, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var got []AttemptRecord
	if err := ro.ReplayAttempts(func(r AttemptRecord) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReplayAttempts:\n got %+v\nwant %+v", got, want)
	}

	stop := errors.New("stop")
	n := 0
	err = ro.ReplayAttempts(func(AttemptRecord) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("after fn's error: err %v after %d calls, want stop after 1", err, n)
	}
	ro.Close()
	if err := ro.ReplayAttempts(func(AttemptRecord) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
