// Package democore is a tiny stand-in for the core app: it shows, on an
// HTML page, the tenant and identity headers the edge sent it, so that a
// newcomer can see the gateway at work with curl or a browser.
package democore
