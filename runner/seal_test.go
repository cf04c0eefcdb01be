package runner_test

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/jobs"
	"github.com/credbatch/credbatch/report"
	"github.com/credbatch/credbatch/runner"
)

// sealFake stands in for --encrypt-to's age sealing: a reversible, visibly
// different encoding, so a test can tell a sealed value from the secret.
func sealFake(s secret.String) (secret.String, error) {
	b := []byte(s.Reveal())
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return secret.New("sealed:" + string(b)), nil
}

// With Options.Seal, the report and the checkpoint hold only sealed secrets:
// each issued secret is replaced by Seal's value, empty cells stay empty.
func TestSealReplacesSecrets(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	users := activeUsers(10)
	rows := []mrow{
		rowFor(jobs.ExpirePasswordWithTempPassword, users[1]),
		rowFor(jobs.ExpirePasswordWithTempPassword, users[2]),
		rowFor(jobs.ResetPassword, users[3]),
		rowFor(jobs.ForgotPassword, users[4]),
		rowFor(jobs.ExpirePassword, users[5]),
	}
	var calls atomic.Int32
	opt := baseOptions()
	opt.Seal = func(s secret.String) (secret.String, error) {
		calls.Add(1)
		return sealFake(s)
	}
	f := e.prepare(rows)
	r := e.execute(f, opt)
	if r.err != nil {
		t.Fatalf("Run: %v", r.err)
	}
	if got := r.count(report.Succeeded); got != len(rows) {
		for _, row := range r.rows {
			t.Log(describe(row))
		}
		t.Fatalf("succeeded %d of %d rows", got, len(rows))
	}
	rep, err := os.ReadFile(f.reportPath)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := os.ReadFile(f.cpPath)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 4 {
		row := r.row(t, k)
		issued := e.org.LastSecret(row.UserID)
		if issued == "" {
			t.Fatalf("line %d: the emulator issued no secret", row.Line)
		}
		want, _ := sealFake(secret.New(issued))
		if got := secretOf(row); got != want.Reveal() {
			t.Errorf("line %d: the report's secret is not Seal's value of the issued one", row.Line)
		}
		if strings.Contains(string(rep), issued) || strings.Contains(string(cp), issued) {
			t.Errorf("line %d: the report or the checkpoint holds the issued secret", row.Line)
		}
		if !strings.Contains(string(cp), want.Reveal()) {
			t.Errorf("line %d: the checkpoint lacks the sealed secret", row.Line)
		}
	}
	if row := r.row(t, 4); !row.TempPassword.IsZero() || !row.ResetURL.IsZero() {
		t.Errorf("expire_password row carries a secret")
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("Seal called %d times, want 4 (once per issued secret, never for an empty cell)", n)
	}
}

// A Seal failure is a local failure: the run stops with ErrLocal, and the
// row whose secret could not be sealed is neither reported nor durable.
func TestSealErrorStopsTheRun(t *testing.T) {
	e := newEnv(t, emulator.Config{})
	users := activeUsers(10)
	rows := []mrow{rowFor(jobs.ExpirePasswordWithTempPassword, users[1])}
	errSeal := errors.New("no entropy")
	opt := baseOptions()
	opt.Workers = 1
	opt.Seal = func(secret.String) (secret.String, error) { return secret.String{}, errSeal }
	f := e.prepare(rows)
	r := e.execute(f, opt)
	if !errors.Is(r.err, runner.ErrLocal) || !errors.Is(r.err, errSeal) {
		t.Fatalf("Run = %v, want an error wrapping ErrLocal and Seal's", r.err)
	}
	if issued := e.org.LastSecret(users[1].ID); issued == "" || strings.Contains(r.err.Error(), issued) {
		t.Errorf("no secret issued, or the error names it")
	}
	if len(r.rows) != 0 || r.state.Done.Count() != 0 || r.res.Pending != 1 {
		t.Errorf("report rows %d, durable rows %d, pending %d: want 0, 0, 1", len(r.rows), r.state.Done.Count(), r.res.Pending)
	}
}
