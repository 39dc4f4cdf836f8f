package testdns

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is a running test DNS server. Its methods are safe for
// concurrent use.
type Server struct {
	// Addr is the host:port to use as resolver, for UDP and TCP.
	Addr string

	mu      sync.Mutex
	txt     map[string][]string // fqdn → values
	cname   map[string]string   // fqdn → target fqdn
	a       net.IP
	noA     map[string]bool
	queries map[uint16]int
}

// Start starts a server on 127.0.0.1 and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 50 { // the TCP port matching a free UDP port may be taken
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatalf("testdns: %v", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		if ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatalf("testdns: tcp on the UDP port: %v", err)
	}
	s := &Server{Addr: pc.LocalAddr().String(), txt: map[string][]string{}, cname: map[string]string{},
		a: net.IPv4(127, 0, 0, 1), noA: map[string]bool{}, queries: map[uint16]int{}}
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: ln, Handler: s}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return s
}

// SetTXT replaces name's TXT records (none removes them).
func (s *Server) SetTXT(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(values) == 0 {
		delete(s.txt, dns.Fqdn(strings.ToLower(name)))
		return
	}
	s.txt[dns.Fqdn(strings.ToLower(name))] = values
}

// SetCNAME points name at target ("" removes it).
func (s *Server) SetCNAME(name, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if target == "" {
		delete(s.cname, dns.Fqdn(strings.ToLower(name)))
		return
	}
	s.cname[dns.Fqdn(strings.ToLower(name))] = dns.Fqdn(target)
}

// RemoveA makes name answer A questions with NXDOMAIN.
func (s *Server) RemoveA(name string) {
	s.mu.Lock()
	s.noA[dns.Fqdn(strings.ToLower(name))] = true
	s.mu.Unlock()
}

// Queries returns how many questions of type qtype were asked.
func (s *Server) Queries(qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[qtype]
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	s.mu.Lock()
	for _, q := range r.Question {
		s.queries[q.Qtype]++
		name := strings.ToLower(q.Name)
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 1}
		switch q.Qtype {
		case dns.TypeA:
			if s.noA[name] {
				m.Rcode = dns.RcodeNameError
				continue
			}
			hdr.Rrtype = dns.TypeA
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: s.a})
		case dns.TypeTXT:
			if v, ok := s.txt[name]; ok {
				hdr.Rrtype = dns.TypeTXT
				for _, x := range v {
					m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr, Txt: []string{x}})
				}
			}
		case dns.TypeCNAME:
			if v, ok := s.cname[name]; ok {
				hdr.Rrtype = dns.TypeCNAME
				m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr, Target: v})
			}
		case dns.TypeCAA:
			// none: any CA may issue
		}
	}
	s.mu.Unlock()
	w.WriteMsg(m)
}
