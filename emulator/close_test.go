package emulator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestCloseReleasesHeldRequests: Close ends a request held in a Latency
// wait at once, without an answer, so a server can shut down.
func TestCloseReleasesHeldRequests(t *testing.T) {
	e := newEnv(t, Config{Users: 3, Latency: time.Hour})
	_, done := e.heldRequest(t)
	for deadline := time.Now().Add(5 * time.Second); len(e.org.Log()) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the request never arrived")
		}
		time.Sleep(time.Millisecond)
	}
	e.org.Close()
	e.org.Close() // idempotent
	select {
	case err := <-done:
		if err == nil || errors.Is(err, context.DeadlineExceeded) || strings.HasPrefix(err.Error(), "answered") {
			t.Errorf("held request after Close: %v, want the connection closed without an answer", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not let the held request go")
	}
	if log := e.org.Log(); len(log) != 1 || log[0].Status != 0 {
		t.Errorf("log %+v", log)
	}
}
