// Package acmetest runs Pebble, Let's Encrypt's test ACME CA, in process
// on loopback for end-to-end TLS tests, and counts the certificate orders
// placed with it.
//
// Pebble's validator resolves names through the given DNS server (see
// internal/testdns) and connects to the given HTTP-01 and TLS-ALPN-01
// ports, so a test points it at its edge's listeners. Pebble puts no OCSP
// responder in its certificates, so OCSP stapling has nothing to staple.
package acmetest
