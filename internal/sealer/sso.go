package sealer

import (
	"encoding/json"
	"fmt"

	"github.com/estatecore/whitelabel"
)

// ssoAD binds sealed SSO secrets to their tenant and provider, so a
// sealed value copied to another row does not open.
func ssoAD(c *whitelabel.SSOConfig) []byte {
	return fmt.Appendf(nil, "whitelabel/sso/%d/%s", c.TenantID, c.Provider)
}

// SealSSOSecrets seals sec into c.SealedSecrets (nil when sec is empty).
func (s *Sealer) SealSSOSecrets(c *whitelabel.SSOConfig, sec whitelabel.SSOSecrets) error {
	if sec == (whitelabel.SSOSecrets{}) {
		c.SealedSecrets = nil
		return nil
	}
	pt, err := json.Marshal(sec)
	if err != nil {
		return err
	}
	c.SealedSecrets, err = s.Seal(pt, ssoAD(c))
	return err
}

// OpenSSOSecrets opens c.SealedSecrets (empty secrets when there are
// none). It returns ErrOpen for a value sealed with an unknown key.
func (s *Sealer) OpenSSOSecrets(c *whitelabel.SSOConfig) (whitelabel.SSOSecrets, error) {
	var sec whitelabel.SSOSecrets
	if len(c.SealedSecrets) == 0 {
		return sec, nil
	}
	pt, err := s.Open(c.SealedSecrets, ssoAD(c))
	if err != nil {
		return sec, err
	}
	if err := json.Unmarshal(pt, &sec); err != nil {
		return sec, fmt.Errorf("sealer: decode sso secrets: %w", err)
	}
	return sec, nil
}
