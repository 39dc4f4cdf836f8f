package codec

import (
	"encoding/json"
	"fmt"

	"github.com/estatecore/whitelabel"
)

// SSOColumns are the JSON text columns of an SSO configuration row.
type SSOColumns struct {
	Settings, Protected, Public, Domains, Groups string
}

// NormalizeSSO gives c the shape a store returns: empty (never nil) path
// and allow lists, timestamps at stored precision.
func NormalizeSSO(c *whitelabel.SSOConfig) {
	for _, l := range []*[]string{&c.ProtectedPaths, &c.PublicPaths, &c.AllowedEmailDomains, &c.AllowedGroups} {
		if *l == nil {
			*l = []string{}
		}
	}
	c.CreatedAt, c.UpdatedAt = Time(c.CreatedAt), Time(c.UpdatedAt)
}

// EncodeSSO returns c's JSON columns.
func EncodeSSO(c *whitelabel.SSOConfig) (SSOColumns, error) {
	var cols SSOColumns
	for _, f := range []struct {
		dst *string
		v   any
	}{{&cols.Settings, c.Settings}, {&cols.Protected, c.ProtectedPaths}, {&cols.Public, c.PublicPaths},
		{&cols.Domains, c.AllowedEmailDomains}, {&cols.Groups, c.AllowedGroups}} {
		b, err := json.Marshal(f.v)
		if err != nil {
			return cols, fmt.Errorf("encode sso config: %w", err)
		}
		*f.dst = string(b)
	}
	return cols, nil
}

// DecodeSSO fills c's JSON-backed fields from the columns.
func DecodeSSO(c *whitelabel.SSOConfig, settings, protected, public, domains, groups []byte) error {
	for _, f := range []struct {
		src []byte
		dst any
	}{{settings, &c.Settings}, {protected, &c.ProtectedPaths}, {public, &c.PublicPaths},
		{domains, &c.AllowedEmailDomains}, {groups, &c.AllowedGroups}} {
		if len(f.src) == 0 {
			continue
		}
		if err := json.Unmarshal(f.src, f.dst); err != nil {
			return fmt.Errorf("decode sso config: %w", err)
		}
	}
	NormalizeSSO(c)
	return nil
}
