// Package config loads the settings of the whitelabel programs: built-in
// defaults, then an optional YAML file, then environment variables, then
// command-line flags, then validation. Only cmd/* uses it; each package
// below receives its own typed Config built from these values.
//
// Every setting is declared once in the settings table (settings.go), from
// which the flags, the environment lookup and the README check are made.
package config
