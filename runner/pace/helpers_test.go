package pace

// Test-only views of the Pacer's state (issue 14: no test-only API in the
// package itself).

// inFlightLimit returns the current AIMD in-flight limit.
func (p *Pacer) inFlightLimit() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limit
}

// inFlight returns how many requests hold an in-flight slot.
func (p *Pacer) inFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight
}
