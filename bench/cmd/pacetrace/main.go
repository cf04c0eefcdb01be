// Command pacetrace drives runner/pace and the okta client against an
// in-process emulator on 127.0.0.1, without the runner, the journal or the
// report, and prints how many credential requests each rate-limit window
// received. It isolates the pacer's share of any pacing shortfall that
// bench/pacing.sh measures.
//
//	go run ./bench/cmd/pacetrace -workers 32 -limit 100 -seconds 6
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/credbatch/credbatch/emulator"
	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/okta"
	"github.com/credbatch/credbatch/runner/pace"
)

func main() {
	workers := flag.Int("workers", 32, "goroutines")
	limit := flag.Int("limit", 100, "credential requests per window")
	share := flag.Int("max-share", 100, "--max-share")
	rateF := flag.Float64("rate", 1000, "--rate")
	seconds := flag.Int("seconds", 6, "how long to run")
	omitDate := flag.Bool("omit-date", false, "the emulator sends no Date header (the pacer then uses offset 0)")
	trace := flag.Bool("trace", false, "print each departure (ms into its window) and the answer's Remaining")
	flag.Parse()
	if err := run(*workers, *limit, *share, *rateF, *seconds, *omitDate, *trace); err != nil {
		fmt.Fprintln(os.Stderr, "pacetrace:", err)
		os.Exit(1)
	}
}

func run(workers, limit, share int, rateF float64, seconds int, omitDate, trace bool) error {
	org := emulator.New(emulator.Config{Seed: 1, Users: 2, PostLimit: limit, Window: time.Second, OmitDate: omitDate})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: org}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	c, err := okta.New(okta.Config{OrgURL: "http://" + ln.Addr().String(), Token: secret.New(org.Token())})
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	me, err := c.GetMe(context.Background(), okta.CallOptions{})
	if err != nil {
		return fmt.Errorf("get me: %w", err)
	}
	uid := me.User.ID
	p := pace.New(pace.Config{Rate: rateF, Burst: 1, MaxShare: share, Workers: workers})
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	var mu sync.Mutex
	var n atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t, err := p.Acquire(ctx, pace.Post)
				if err != nil {
					return
				}
				left := time.Now()
				n.Add(1)
				resp, err := c.ExpirePassword(context.Background(), uid, okta.CallOptions{})
				var ri okta.RateInfo
				var status int
				var ae *okta.APIError
				switch {
				case err == nil:
					ri, status = resp.Rate, resp.HTTPStatus
				case asAPI(err, &ae):
					ri, status = ae.Rate, ae.HTTPStatus
				}
				t.Done(pace.Observation{Answered: status != 0, Status: status, HasRate: ri.Present,
					Limit: ri.Limit, Remaining: ri.Remaining, Reset: ri.Reset, Date: ri.Date,
					RetryAfter: ri.RetryAfter, Received: ri.Received})
				if trace {
					mu.Lock()
					fmt.Printf("dep %d.%03d status %d remaining %d reset %d rtt %s\n", left.Unix(), left.Nanosecond()/1e6,
						status, ri.Remaining, ri.Reset.Unix(), time.Since(left).Round(10*time.Microsecond))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	counts := map[int64]int{}
	var order []int64
	for _, w := range org.Windows() {
		if w.Bucket == emulator.BucketCredentials {
			counts[w.Reset] = w.Used
			order = append(order, w.Reset)
		}
	}
	fmt.Printf("requests %d, 429s %d, per window:", n.Load(), org.Stats().RateLimited)
	for _, r := range order {
		fmt.Printf(" %d", counts[r])
	}
	fmt.Println()
	return nil
}

func asAPI(err error, ae **okta.APIError) bool { return errors.As(err, ae) }
