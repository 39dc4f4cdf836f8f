package control

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/estatecore/whitelabel"
)

// partnerView is a partner with its keys' public parts (never hashes).
type partnerView struct {
	*whitelabel.Partner
	APIKeys []*whitelabel.APIKey `json:"api_keys,omitempty"`
}

// partnerWithKey is the answer to a create: the only time the plaintext
// key is shown.
type partnerWithKey struct {
	*whitelabel.Partner
	APIKey   string `json:"api_key"`
	APIKeyID string `json:"api_key_id"`
}

func partnerLocation(id int64) string {
	return BasePath + "/partners/" + strconv.FormatInt(id, 10)
}

func (s *Server) createPartner(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	var req struct {
		Name                string   `json:"name"`
		ContactEmail        string   `json:"contact_email"`
		DefaultRevenueShare *float64 `json:"default_revenue_share"`
	}
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := whitelabel.ValidateDisplayName("name", req.Name); err != nil {
		return err
	}
	if err := whitelabel.ValidateEmail("contact_email", req.ContactEmail); err != nil {
		return err
	}
	p := &whitelabel.Partner{
		Name:         strings.TrimSpace(req.Name),
		ContactEmail: req.ContactEmail,
		IsActive:     true,
	}
	if req.DefaultRevenueShare != nil {
		v := *req.DefaultRevenueShare
		if math.IsNaN(v) || v < 0 || v > 100 {
			return whitelabel.Invalid("default_revenue_share", "default_revenue_share must be a percentage from 0 to 100")
		}
		p.DefaultRevenueShare = v
	}
	plaintext, key := whitelabel.NewAPIKey(0, s.now())
	audit := rs.partnerAudit("partner.create", p)
	audit.After = mustJSON(p)
	if err := s.store.CreatePartner(r.Context(), p, &key, audit); err != nil {
		return err
	}
	w.Header().Set("Location", partnerLocation(p.ID))
	return writeJSON(w, http.StatusCreated, partnerWithKey{Partner: p, APIKey: plaintext, APIKeyID: key.ID})
}

func (s *Server) listPartners(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	ps, err := s.store.ListPartners(r.Context())
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []*whitelabel.Partner{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"partners": ps})
}

// loadPartner returns the partner at {id}; a malformed ID is not found.
func (s *Server) loadPartner(r *http.Request) (*whitelabel.Partner, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, whitelabel.NotFound("partner")
	}
	return s.store.GetPartner(r.Context(), id)
}

func (s *Server) writePartner(w http.ResponseWriter, r *http.Request, p *whitelabel.Partner) error {
	keys, err := s.store.ListAPIKeys(r.Context(), p.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, partnerView{Partner: p, APIKeys: keys})
}

func (s *Server) getPartner(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	p, err := s.loadPartner(r)
	if err != nil {
		return err
	}
	return s.writePartner(w, r, p)
}

func (s *Server) getPartnerMe(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	return s.writePartner(w, r, rs.partner)
}

func (s *Server) deactivatePartner(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	return s.setPartnerActive(w, r, rs, false)
}

func (s *Server) activatePartner(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	return s.setPartnerActive(w, r, rs, true)
}

// setPartnerActive is idempotent: setting the state a partner already
// has writes nothing.
func (s *Server) setPartnerActive(w http.ResponseWriter, r *http.Request, rs *reqState, active bool) error {
	p, err := s.loadPartner(r)
	if err != nil {
		return err
	}
	if p.IsActive != active {
		before := *p
		p.IsActive = active
		action := "partner.deactivate"
		if active {
			action = "partner.activate"
		}
		audit := rs.partnerAudit(action, p)
		audit.Before, audit.After = mustJSON(&before), mustJSON(p)
		if err := s.store.UpdatePartner(r.Context(), p, audit); err != nil {
			return err
		}
	}
	return s.writePartner(w, r, p)
}

// rotatePartnerKey issues a new key, shown once. Every older key that has
// not expired yet keeps working until now+KeyGracePeriod, so the partner
// can roll the new key out without downtime.
func (s *Server) rotatePartnerKey(w http.ResponseWriter, r *http.Request, rs *reqState) error {
	p, err := s.loadPartner(r)
	if err != nil {
		return err
	}
	now := s.now()
	plaintext, key := whitelabel.NewAPIKey(p.ID, now)
	oldExpire := now.Add(s.cfg.KeyGracePeriod).UTC()
	audit := rs.partnerAudit("partner.rotate_key", p)
	audit.After = mustJSON(map[string]any{"new_key_id": key.ID, "old_keys_expire_at": oldExpire})
	if err := s.store.RotateAPIKey(r.Context(), &key, oldExpire, audit); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		PartnerID       int64     `json:"partner_id"`
		APIKey          string    `json:"api_key"`
		APIKeyID        string    `json:"api_key_id"`
		OldKeysExpireAt time.Time `json:"old_keys_expire_at"`
		GracePeriod     string    `json:"grace_period"`
	}{p.ID, plaintext, key.ID, oldExpire, s.cfg.KeyGracePeriod.String()})
}
