package emulator

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// This file parses and evaluates the filter expressions of Okta's listing
// calls (`search` and `filter` of GET /api/v1/users and /api/v1/groups,
// `filter` of GET /api/v1/logs): SCIM-like comparisons joined by `and` and
// `or` (`and` binds tighter), with parentheses. Each parameter has a dialect
// saying which attributes and operators it accepts; anything else is a
// parse error, answered 400 E0000031.

// expr is a node of a parsed expression: a logical node (op "and"/"or"
// with left and right) or a comparison (attr op val; op "pr" has no val).
type expr struct {
	op          string
	left, right *expr
	attr        string
	val         literal
}

type literalKind int

const (
	litString literalKind = iota
	litNumber
	litBool
	litNull
)

type literal struct {
	kind literalKind
	s    string
	n    float64
	b    bool
	t    time.Time // when s parses as a timestamp
	isT  bool
}

// dialect says what one query parameter accepts and how it compares.
type dialect struct {
	param string
	// fold: string values compare ignoring case.
	fold bool
	// check returns "" when attr may be used with op, else the reason.
	check func(attr, op string) string
	// isDate reports the attributes holding timestamps (their values must
	// parse as RFC 3339 timestamps).
	isDate func(attr string) bool
}

var comparisons = map[string]bool{"eq": true, "ne": true, "sw": true, "co": true, "ew": true,
	"gt": true, "ge": true, "lt": true, "le": true, "pr": true}

type queryError struct {
	param, msg string
}

func (e *queryError) Error() string { return e.param + ": " + e.msg }

type token struct {
	text   string
	quoted bool // a "..." string (text is unescaped)
	pos    int
}

func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, token{text: string(c), pos: i})
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			toks = append(toks, token{text: b.String(), quoted: true, pos: i})
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()\"", rune(s[j])) {
				j++
			}
			toks = append(toks, token{text: s[i:j], pos: i})
			i = j
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	i    int
	d    *dialect
}

func (p *parser) peekWord(w string) bool {
	return p.i < len(p.toks) && !p.toks[p.i].quoted && strings.EqualFold(p.toks[p.i].text, w)
}

func (p *parser) errAt(format string, args ...any) error {
	if p.i >= len(p.toks) {
		return fmt.Errorf(format+" at the end", args...)
	}
	return fmt.Errorf(format+" at %d", append(args, p.toks[p.i].pos)...)
}

// parseQuery parses s in dialect d; an empty s is an error.
func parseQuery(s string, d *dialect) (*expr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, &queryError{d.param, err.Error()}
	}
	if len(toks) == 0 {
		return nil, &queryError{d.param, "empty expression"}
	}
	p := &parser{toks: toks, d: d}
	e, err := p.or()
	if err == nil && p.i < len(p.toks) {
		err = p.errAt("unexpected %q", p.toks[p.i].text)
	}
	if err != nil {
		return nil, &queryError{d.param, err.Error()}
	}
	return e, nil
}

func (p *parser) or() (*expr, error) {
	left, err := p.and()
	for err == nil && p.peekWord("or") {
		p.i++
		var right *expr
		if right, err = p.and(); err == nil {
			left = &expr{op: "or", left: left, right: right}
		}
	}
	return left, err
}

func (p *parser) and() (*expr, error) {
	left, err := p.factor()
	for err == nil && p.peekWord("and") {
		p.i++
		var right *expr
		if right, err = p.factor(); err == nil {
			left = &expr{op: "and", left: left, right: right}
		}
	}
	return left, err
}

func (p *parser) factor() (*expr, error) {
	if p.i >= len(p.toks) {
		return nil, p.errAt("expected an expression")
	}
	t := p.toks[p.i]
	if !t.quoted && t.text == "(" {
		p.i++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.i >= len(p.toks) || p.toks[p.i].quoted || p.toks[p.i].text != ")" {
			return nil, p.errAt("expected \")\"")
		}
		p.i++
		return e, nil
	}
	if t.quoted || !isAttrPath(t.text) {
		return nil, p.errAt("expected an attribute name, not %q", t.text)
	}
	p.i++
	if p.i >= len(p.toks) || p.toks[p.i].quoted {
		return nil, p.errAt("expected an operator after %s", t.text)
	}
	op := strings.ToLower(p.toks[p.i].text)
	if !comparisons[op] {
		return nil, p.errAt("unknown operator %q", p.toks[p.i].text)
	}
	if why := p.d.check(t.text, op); why != "" {
		return nil, p.errAt("%s", why)
	}
	p.i++
	e := &expr{op: op, attr: t.text}
	if op == "pr" {
		return e, nil
	}
	if p.i >= len(p.toks) {
		return nil, p.errAt("expected a value after %s %s", t.text, op)
	}
	v := p.toks[p.i]
	switch {
	case v.quoted:
		e.val = literal{kind: litString, s: v.text}
		if ts, err := time.Parse(time.RFC3339Nano, v.text); err == nil {
			e.val.t, e.val.isT = ts, true
		}
	case strings.EqualFold(v.text, "true"), strings.EqualFold(v.text, "false"):
		e.val = literal{kind: litBool, b: strings.EqualFold(v.text, "true")}
	case strings.EqualFold(v.text, "null"):
		e.val = literal{kind: litNull}
	default:
		n, err := strconv.ParseFloat(v.text, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, p.errAt("expected a value (a \"string\", a number, true, false or null), not %q", v.text)
		}
		e.val = literal{kind: litNumber, n: n}
	}
	if p.d.isDate != nil && p.d.isDate(e.attr) && (e.val.kind != litString || !e.val.isT) && e.val.kind != litNull {
		return nil, p.errAt("%s takes a timestamp such as \"2026-01-02T03:04:05.000Z\"", e.attr)
	}
	p.i++
	return e, nil
}

func isAttrPath(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return !strings.EqualFold(s, "and") && !strings.EqualFold(s, "or")
}

// eval tells whether the expression holds; get returns an attribute's
// values (none: absent), each a string, time.Time, float64 or bool.
func (e *expr) eval(get func(attr string) []any, fold bool) bool {
	switch e.op {
	case "and":
		return e.left.eval(get, fold) && e.right.eval(get, fold)
	case "or":
		return e.left.eval(get, fold) || e.right.eval(get, fold)
	}
	vals := get(e.attr)
	present := false
	for _, v := range vals {
		if s, ok := v.(string); !ok || s != "" {
			present = true
		}
	}
	switch {
	case e.op == "pr":
		return present
	case e.val.kind == litNull && e.op == "eq":
		return !present
	case e.val.kind == litNull && e.op == "ne":
		return present
	case e.val.kind == litNull:
		return false
	}
	if e.op == "ne" {
		for _, v := range vals {
			if compare(v, "eq", e.val, fold) {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		if compare(v, e.op, e.val, fold) {
			return true
		}
	}
	return false
}

// compare applies op to one attribute value and the literal.
func compare(v any, op string, lit literal, fold bool) bool {
	switch v := v.(type) {
	case time.Time:
		if !lit.isT {
			return false
		}
		return ordered(v.Compare(lit.t), op)
	case bool:
		return lit.kind == litBool && op == "eq" && v == lit.b
	case float64:
		if lit.kind != litNumber {
			return false
		}
		c := 0
		if v < lit.n {
			c = -1
		} else if v > lit.n {
			c = 1
		}
		return ordered(c, op)
	case string:
		if lit.kind != litString {
			return false
		}
		a, b := v, lit.s
		if fold {
			a, b = strings.ToLower(a), strings.ToLower(b)
		}
		switch op {
		case "sw":
			return strings.HasPrefix(a, b)
		case "co":
			return strings.Contains(a, b)
		case "ew":
			return strings.HasSuffix(a, b)
		}
		return ordered(strings.Compare(a, b), op)
	}
	return false
}

func ordered(c int, op string) bool {
	switch op {
	case "eq":
		return c == 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

// profileValues turns a profile attribute into values for eval.
func profileValues(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case string, bool, float64:
		return []any{v}
	case int:
		return []any{float64(v)}
	case int64:
		return []any{float64(v)}
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	case []any:
		return v
	}
	return nil
}

// onlyOps reports whether s is one of list.
func onlyOps(s string, list ...string) bool {
	for _, o := range list {
		if o == s {
			return true
		}
	}
	return false
}

func isUserDate(attr string) bool {
	switch attr {
	case "created", "activated", "statusChanged", "lastUpdated":
		return true
	}
	return false
}

// userSearch is the `search` of GET /api/v1/users: any profile attribute
// and id, status, created, activated, statusChanged, lastUpdated; eq, sw,
// co (only on profile.firstName, lastName, email, login), gt, ge, lt, le,
// pr; no ne. String values compare ignoring case.
var userSearch = &dialect{param: "search", fold: true, isDate: isUserDate,
	check: func(attr, op string) string {
		switch {
		case !strings.HasPrefix(attr, "profile.") && attr != "id" && attr != "status" && !isUserDate(attr):
			return fmt.Sprintf("%s cannot be searched", attr)
		case op == "ne":
			return "the ne operator isn't supported (use lt ... or ... gt)"
		case op == "ew":
			return "the ew operator isn't supported"
		case op == "co" && !onlyOps(attr, "profile.firstName", "profile.lastName", "profile.email", "profile.login"):
			return "co can only be used with profile.firstName, profile.lastName, profile.email and profile.login"
		}
		return ""
	}}

// userFilter is the `filter` of GET /api/v1/users: status, lastUpdated, id,
// profile.login, profile.email, profile.firstName, profile.lastName with
// eq, and lastUpdated also with gt, ge, lt, le. Values compare exactly.
var userFilter = &dialect{param: "filter", fold: false, isDate: func(a string) bool { return a == "lastUpdated" },
	check: func(attr, op string) string {
		switch {
		case !onlyOps(attr, "status", "lastUpdated", "id", "profile.login", "profile.email", "profile.firstName", "profile.lastName"):
			return fmt.Sprintf("%s cannot be filtered (use search)", attr)
		case op == "eq", attr == "lastUpdated" && onlyOps(op, "gt", "ge", "lt", "le"):
			return ""
		}
		return fmt.Sprintf("%s cannot be filtered with %s", attr, op)
	}}

func isGroupDate(attr string) bool {
	switch attr {
	case "created", "lastUpdated", "lastMembershipUpdated":
		return true
	}
	return false
}

// groupSearch is the `search` of GET /api/v1/groups: any profile attribute
// and id, type, created, lastUpdated, lastMembershipUpdated; eq, sw, co
// (only on profile.name and profile.description), gt, ge, lt, le, pr.
var groupSearch = &dialect{param: "search", fold: true, isDate: isGroupDate,
	check: func(attr, op string) string {
		switch {
		case !strings.HasPrefix(attr, "profile.") && attr != "id" && attr != "type" && !isGroupDate(attr):
			return fmt.Sprintf("%s cannot be searched", attr)
		case op == "ne" || op == "ew":
			return fmt.Sprintf("the %s operator isn't supported", op)
		case op == "co" && attr != "profile.name" && attr != "profile.description":
			return "co can only be used with profile.name and profile.description"
		}
		return ""
	}}

// groupFilter is the `filter` of GET /api/v1/groups: id, type with eq;
// lastUpdated, lastMembershipUpdated with eq, gt, ge, lt, le.
var groupFilter = &dialect{param: "filter", fold: false, isDate: isGroupDate,
	check: func(attr, op string) string {
		switch {
		case !onlyOps(attr, "id", "type", "lastUpdated", "lastMembershipUpdated"):
			return fmt.Sprintf("%s cannot be filtered (use search)", attr)
		case op == "eq", isGroupDate(attr) && onlyOps(op, "gt", "ge", "lt", "le"):
			return ""
		}
		return fmt.Sprintf("%s cannot be filtered with %s", attr, op)
	}}

// errSearch is Okta's answer to an expression it cannot use.
func errSearch(err error) *apiError {
	return &apiError{status: 400, code: "E0000031", summary: "Invalid search criteria.", causes: []string{err.Error()}}
}
