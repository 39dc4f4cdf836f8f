package edge

import (
	"encoding/json"
	"hash/maphash"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/estatecore/whitelabel"
	"github.com/estatecore/whitelabel/edge/bandwidth"
	"github.com/estatecore/whitelabel/edge/ratelimit"
	"github.com/estatecore/whitelabel/theming"
)

// tenantEntry is one tenant as the hot path sees it: the tenant with its
// domains plus everything a request needs precomputed, so serving a
// request formats nothing. An entry is immutable once built; a change to
// the tenant builds a new entry.
type tenantEntry struct {
	cfg    whitelabel.TenantConfig // as loaded; written to the disk snapshot
	tenant *whitelabel.Tenant      // &cfg.Tenant
	hosts  []string                // every host key this entry occupies in snapshot.byHost

	status   whitelabel.TenantStatus
	id       string // X-Tenant-ID
	key      string // X-Tenant-Key, and the metrics tenant label
	orgID    string // X-Organization-ID
	plan     string // X-Tenant-Plan
	features string // X-Tenant-Features: enabled effective flags, sorted, comma-separated
	brand    theming.Brand
	info     []byte       // body of GET /api/white-label/current/info
	limits   tenantLimits // enforced quotas (limits.go)

	// Header values for the upstream, shared by every request (the
	// transport only reads them).
	hdrID, hdrKey, hdrOrgID, hdrPlan, hdrFeatures []string

	// themeSt is the tenant's theme, built on first use (theme.go).
	themeSt themeState
	// series caches the tenant's metric series, set on its first
	// finished request (metrics.go).
	series atomic.Pointer[seriesCache]
	// policies caches the tenant's RateLimit-Policy header value
	// (limits.go).
	policies ratelimit.PolicyCache
	// bandwidth keeps the tenant's bandwidth counter for
	// Config.Bandwidth (bandwidth.go).
	bandwidth bandwidth.Slot
}

// publicInfo is the body of /api/white-label/current/info.
type publicInfo struct {
	DisplayName string                  `json:"display_name"`
	TenantKey   string                  `json:"tenant_key"`
	Status      whitelabel.TenantStatus `json:"status"`
	Brand       json.RawMessage         `json:"brand"`
	Features    []string                `json:"features"`
}

// newEntry precomputes a tenant's entry. interned shares equal feature
// strings between entries (most tenants have their plan's defaults); it
// may be nil.
func newEntry(tc whitelabel.TenantConfig, plans whitelabel.Plans, baseDomain string, interned map[string]string) *tenantEntry {
	e := &tenantEntry{cfg: tc}
	t := &e.cfg.Tenant
	e.tenant = t
	e.status = t.Status
	e.id = strconv.FormatInt(t.ID, 10)
	e.key = t.TenantKey
	e.orgID = strconv.FormatInt(t.OrganizationID, 10)
	e.plan = t.Plan
	e.limits = limitsOf(plans, t)
	feats, f := enabledFeatures(plans, t, interned)
	e.features = f
	e.hdrID, e.hdrKey, e.hdrOrgID = []string{e.id}, []string{e.key}, []string{e.orgID}
	e.hdrPlan, e.hdrFeatures = []string{e.plan}, []string{e.features}
	// An invalid brand keeps what was valid: a bad colour must not take a
	// tenant's pages down, and control rejects bad brands on write anyway.
	var err error
	e.brand, err = theming.ParseBrand(t.BrandConfig)
	brand := json.RawMessage(t.BrandConfig)
	if len(brand) == 0 || err != nil && !json.Valid(brand) {
		brand = json.RawMessage("{}")
	}
	e.info, _ = json.Marshal(publicInfo{DisplayName: t.DisplayName, TenantKey: t.TenantKey, Status: t.Status, Brand: brand, Features: feats})

	if t.Subdomain != "" {
		e.hosts = append(e.hosts, strings.ToLower(t.Subdomain)+"."+baseDomain)
	}
	for _, d := range tc.Domains {
		if d.Status.Serving() {
			if h, ok := normalizeHost(d.Domain); ok {
				e.hosts = append(e.hosts, h)
			}
		}
	}
	return e
}

// enabledFeatures returns t's enabled features and their header value.
// Tenants without overrides share their plan's result through interned
// (keyed by "\x00"+plan), which may be nil; equal strings are shared too.
func enabledFeatures(plans whitelabel.Plans, t *whitelabel.Tenant, interned map[string]string) ([]string, string) {
	if interned != nil && len(t.FeatureFlags) == 0 {
		if f, ok := interned["\x00"+t.Plan]; ok {
			if f == "" {
				return []string{}, f
			}
			return strings.Split(f, ","), f
		}
	}
	feats := plans.EnabledFeatures(t)
	if feats == nil {
		feats = []string{}
	}
	f := strings.Join(feats, ",")
	if interned != nil {
		if s, ok := interned[f]; ok {
			f = s
		} else {
			interned[f] = f
		}
		if len(t.FeatureFlags) == 0 {
			interned["\x00"+t.Plan] = f
		}
	}
	return feats, f
}

// shardCount splits each index so that a change copies only the shards it
// touches: with a million tenants a patch clones a few thousand map
// entries, not a million.
const shardCount = 256

// shardSeed is fixed for the process so shards line up across snapshots.
var shardSeed = maphash.MakeSeed()

func hostShard(s string) int { return int(maphash.String(shardSeed, s) % shardCount) }
func idShard(id int64) int   { return int(uint64(id) % shardCount) }

// snapshot is an immutable view of every tenant. Readers get it from
// Server.snap (an atomic.Pointer) and never lock; writers build a new one
// and swap it in.
type snapshot struct {
	version int64     // config version it reflects
	builtAt time.Time // when it was loaded or last patched
	tenants int

	byHost [shardCount]map[string]*tenantEntry // normalized host → entry
	byKey  [shardCount]map[string]*tenantEntry // tenant key → entry
	byID   [shardCount]map[int64]*tenantEntry
}

// lookupHost returns the tenant serving host, which must be normalized.
func (s *snapshot) lookupHost(host string) *tenantEntry {
	return s.byHost[hostShard(host)][host]
}

// lookupKey returns the tenant with the given tenant key.
func (s *snapshot) lookupKey(key string) *tenantEntry {
	return s.byKey[hostShard(key)][key]
}

func (s *snapshot) lookupID(id int64) *tenantEntry {
	return s.byID[idShard(id)][id]
}

// entries calls yield for every tenant, in no particular order.
func (s *snapshot) entries(yield func(*tenantEntry)) {
	for _, m := range s.byID {
		for _, e := range m {
			yield(e)
		}
	}
}

// snapshotBuilder makes snapshots for one configuration.
type snapshotBuilder struct {
	plans      whitelabel.Plans
	baseDomain string
}

// build makes a snapshot of every tenant in tcs.
func (b *snapshotBuilder) build(version int64, tcs []whitelabel.TenantConfig, now time.Time) *snapshot {
	s := &snapshot{version: version, builtAt: now}
	per := len(tcs)/shardCount + 1
	for i := range shardCount {
		s.byHost[i] = make(map[string]*tenantEntry, per+per/4)
		s.byKey[i] = make(map[string]*tenantEntry, per)
		s.byID[i] = make(map[int64]*tenantEntry, per)
	}
	interned := make(map[string]string)
	for _, tc := range tcs {
		s.insert(newEntry(tc, b.plans, b.baseDomain, interned))
	}
	s.count()
	return s
}

// insert adds e to s's maps, which the caller owns (freshly built or
// cloned). A host already taken by another tenant keeps its owner only if
// that owner's subdomain is the host: the platform's own names win over
// custom domains.
func (s *snapshot) insert(e *tenantEntry) {
	s.byID[idShard(e.tenant.ID)][e.tenant.ID] = e
	if e.key != "" {
		s.byKey[hostShard(e.key)][e.key] = e
	}
	for i, h := range e.hosts {
		m := s.byHost[hostShard(h)]
		if old, ok := m[h]; ok && i > 0 && old != e && old.tenant.Subdomain != "" && old.hosts[0] == h {
			continue
		}
		m[h] = e
	}
}

// count sets s.tenants.
func (s *snapshot) count() {
	s.tenants = 0
	for _, m := range s.byID {
		s.tenants += len(m)
	}
}

// patch returns a new snapshot at version with the tenants in changed
// replaced by their new configs and those in removed dropped. Only the
// shards those tenants touch are copied; s is not modified.
func (b *snapshotBuilder) patch(s *snapshot, version int64, changed []whitelabel.TenantConfig, removed []int64, now time.Time) *snapshot {
	n := *s // copies the shard arrays (map pointers), not the maps
	n.version, n.builtAt = version, now
	var cloned struct{ host, key, id [shardCount]bool }
	hostMap := func(h string) map[string]*tenantEntry {
		i := hostShard(h)
		if !cloned.host[i] {
			n.byHost[i], cloned.host[i] = maps.Clone(n.byHost[i]), true
		}
		return n.byHost[i]
	}
	keyMap := func(k string) map[string]*tenantEntry {
		i := hostShard(k)
		if !cloned.key[i] {
			n.byKey[i], cloned.key[i] = maps.Clone(n.byKey[i]), true
		}
		return n.byKey[i]
	}
	idMap := func(id int64) map[int64]*tenantEntry {
		i := idShard(id)
		if !cloned.id[i] {
			n.byID[i], cloned.id[i] = maps.Clone(n.byID[i]), true
		}
		return n.byID[i]
	}
	drop := func(id int64) {
		old := n.lookupID(id)
		if old == nil {
			return
		}
		delete(idMap(id), id)
		if km := keyMap(old.key); km[old.key] == old {
			delete(km, old.key)
		}
		for _, h := range old.hosts {
			if hm := hostMap(h); hm[h] == old {
				delete(hm, h)
			}
		}
	}
	for _, id := range removed {
		drop(id)
	}
	for _, tc := range changed {
		drop(tc.Tenant.ID)
	}
	for _, tc := range changed {
		e := newEntry(tc, b.plans, b.baseDomain, nil)
		idMap(tc.Tenant.ID)
		if e.key != "" {
			keyMap(e.key)
		}
		for _, h := range e.hosts {
			hostMap(h)
		}
		n.insert(e)
	}
	n.count()
	return &n
}
