// Package storetest is the conformance suite for whitelabel.Store
// implementations. store/sqlite and store/postgres both call Run from
// their tests, so the two behave identically: the same error codes and
// fields, the same change feed, the same values read back.
//
// Read storetest.go first: Run lists every group of checks. Its
// compare_test.go runs one script against both stores and checks that
// they return equal values.
package storetest
