// Package codec holds what store/sqlite and store/postgres must do
// identically so that both return equal values for the same input: time
// precision, the JSON forms of brand configs, flags, quotas and audit
// states, list limits, and the wake-up broadcast behind WaitForChange.
//
// It knows nothing about either driver. Read codec.go first.
package codec
