// Package app wires the whitelabel programs together from a loaded
// config.Config: it opens the store, builds the control API and the edge,
// and runs HTTP servers with timeouts and graceful shutdown. The commands
// in cmd/ are thin wrappers around it, and end-to-end tests call it with
// ":0" addresses.
//
// Read app.go first (OpenStore, Serve), then control.go and edge.go.
package app
