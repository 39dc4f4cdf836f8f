package codec

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/estatecore/whitelabel"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "sorted, compact", in: ` {"b": 1, "a": {"d": [1, 2.50, "x"], "c": null}} `, want: `{"a":{"c":null,"d":[1,2.50,"x"]},"b":1}`},
		{name: "no HTML escaping", in: `{"s":"<a href=\"x\">&</a>"}`, want: `{"s":"<a href=\"x\">&</a>"}`},
		{name: "escapes normalized", in: `{"s":"\u0041\u00e9"}`, want: `{"s":"Aé"}`},
		{name: "big number kept", in: `{"n":12345678901234567890}`, want: `{"n":12345678901234567890}`},
		{name: "invalid", in: `{`, wantErr: true},
		{name: "trailing data", in: `{} {}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical([]byte(tt.in))
			if (err != nil) != tt.wantErr || string(got) != tt.want {
				t.Errorf("Canonical(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestBrandConfig(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantCode       whitelabel.ErrorCode
	}{
		{name: "empty", in: "", want: "{}"},
		{name: "null", in: "null", want: "{}"},
		{name: "object", in: `{"b":1,"a":2}`, want: `{"a":2,"b":1}`},
		{name: "array", in: `[1]`, wantCode: whitelabel.CodeInvalid},
		{name: "string", in: `"x"`, wantCode: whitelabel.CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BrandConfig(json.RawMessage(tt.in))
			if got != tt.want || whitelabel.ErrorCodeOf(err) != tt.wantCode {
				t.Errorf("BrandConfig(%q) = %q, %v; want %q, code %q", tt.in, got, err, tt.want, tt.wantCode)
			}
		})
	}
}

func TestFlagsRoundTrip(t *testing.T) {
	in := whitelabel.Flags{"b": true, "n": 3, "f": 0.5, "s": "x"}
	s, err := Flags(in)
	if err != nil {
		t.Fatalf("Flags(%v) = %v", in, err)
	}
	got, err := DecodeFlags([]byte(s))
	want := whitelabel.Flags{"b": true, "n": float64(3), "f": 0.5, "s": "x"}
	if err != nil || len(got) != len(want) {
		t.Fatalf("DecodeFlags(%s) = %v, %v; want %v", s, got, err, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("DecodeFlags(%s)[%q] = %#v, want %#v", s, k, got[k], v)
		}
	}
	if f, err := DecodeFlags(nil); err != nil || f == nil {
		t.Errorf("DecodeFlags(nil) = %#v, %v; want an empty non-nil map", f, err)
	}
	if q, err := DecodeQuotas([]byte("{}")); err != nil || q == nil {
		t.Errorf("DecodeQuotas({}) = %#v, %v; want an empty non-nil map", q, err)
	}
}

func TestTime(t *testing.T) {
	in := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", -7200))
	want := time.Date(2026, 1, 2, 5, 4, 5, 123456000, time.UTC)
	if got := Time(in); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Time(%v) = %v, want %v", in, got, want)
	}
	if TimePtr(nil) != nil {
		t.Errorf("TimePtr(nil) != nil")
	}
}

func TestLimit(t *testing.T) {
	tests := []struct{ n, want int }{{-1, 100}, {0, 100}, {1, 1}, {500, 500}, {1000, 1000}, {1001, 1000}}
	for _, tt := range tests {
		if got := Limit(tt.n, 100, 1000); got != tt.want {
			t.Errorf("Limit(%d, 100, 1000) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	in := "failed to connect:\n\thost a: refused\n\thost b: refused"
	if got, want := OneLine(in), "failed to connect:; host a: refused; host b: refused"; got != want {
		t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
	}
}

func TestBroadcast(t *testing.T) {
	var b Broadcast
	c1 := b.C()
	c2 := b.C()
	b.Wake()
	for i, c := range []<-chan struct{}{c1, c2} {
		select {
		case <-c:
		default:
			t.Errorf("channel %d not closed by Wake", i)
		}
	}
	select {
	case <-b.C():
		t.Errorf("a channel taken after Wake is already closed")
	default:
	}
	b.Wake() // twice in a row must not panic
	b.Wake()
}
