// Package testdns runs an authoritative DNS server on loopback (UDP and
// TCP, one port) for tests: the verification worker and Pebble's
// validator ask it for records the test publishes.
//
// Every A question is answered with the configured address (127.0.0.1
// unless set otherwise), so any name reaches the test's listeners; AAAA
// questions get an empty answer, because Pebble's validator asks for AAAA
// first and would otherwise try ::1. TXT and CNAME records are only what
// the test set.
package testdns
