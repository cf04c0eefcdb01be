package report_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/credbatch/credbatch/internal/secret"
	"github.com/credbatch/credbatch/report"
)

func ExampleWriter() {
	w := report.NewWriter(os.Stdout, report.CSV)
	_ = w.WriteHeader()
	start := time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	_ = w.Write(&report.Row{
		Line: 2, User: "alice@example.com", UserID: "00u1a2b3c4d5e6f7g8h9",
		Action: "expire_password_with_temp_password", Outcome: report.Succeeded, HTTPStatus: 200,
		OktaRequestID: "XyZ1", TempPassword: secret.New("Lute-Pink-42"), UserStatus: "PASSWORD_EXPIRED",
		Attempts: 1, StartedAt: start, FinishedAt: start.Add(180 * time.Millisecond),
		Login: "alice@example.com", Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell",
	})
	_ = w.Write(&report.Row{
		Line: 3, User: "bob@example.com", Action: "expire_password", Outcome: report.Failed,
		HTTPStatus: 404, ErrorCode: "E0000007", ErrorSummary: "Not found: Resource not found: bob@example.com (User)",
		OktaRequestID: "XyZ2", Attempts: 1, StartedAt: start, FinishedAt: start.Add(90 * time.Millisecond),
	})
	_ = w.Flush()
	// Output:
	// line,user,user_id,action,outcome,http_status,error_code,error_summary,okta_request_id,temp_password,reset_url,user_status,attempts,started_at,finished_at,login,email,first_name,last_name
	// 2,alice@example.com,00u1a2b3c4d5e6f7g8h9,expire_password_with_temp_password,succeeded,200,,,XyZ1,Lute-Pink-42,,PASSWORD_EXPIRED,1,2025-03-14T15:09:26.535Z,2025-03-14T15:09:26.715Z,alice@example.com,alice@example.com,Alice,Liddell
	// 3,bob@example.com,,expire_password,failed,404,E0000007,Not found: Resource not found: bob@example.com (User),XyZ2,,,,1,2025-03-14T15:09:26.535Z,2025-03-14T15:09:26.625Z,,,,
}

func ExampleRead() {
	jsonl := `{"line":2,"user":"alice@example.com","action":"reset_password","outcome":"succeeded","http_status":200,"reset_url":"https://example.okta.com/signin/reset-password/abc","attempts":1}
{"line":3,"user":"bob@example.com","action":"reset_password","outcome":"in_doubt","error_code":"CB_TIMEOUT","attempts":2}
`
	err := report.Read(strings.NewReader(jsonl), report.JSONL, func(r *report.Row) error {
		// Secrets print as [REDACTED]; r.ResetURL.Reveal() gives the link.
		fmt.Println(r.Line, r.User, r.Outcome, r.ErrorCode, r.ResetURL, len(r.ResetURL.Reveal()))
		return nil
	})
	fmt.Println("err:", err)
	// Output:
	// 2 alice@example.com succeeded  [REDACTED] 50
	// 3 bob@example.com in_doubt CB_TIMEOUT [REDACTED] 0
	// err: <nil>
}
