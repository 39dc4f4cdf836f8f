package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
)

// listenReconnectDelay is how long the listener waits after losing its
// connection before connecting again.
const listenReconnectDelay = 500 * time.Millisecond

// startListening starts, once, the goroutine that holds a dedicated
// connection doing LISTEN wl_config and wakes WaitForChange on every
// notification. It reconnects by itself; after each (re)connect it wakes
// waiters too, since notifications sent while it was down are lost.
// Close stops it.
func (s *Store) startListening() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listening {
		return
	}
	s.listening = true
	ctx, cancel := context.WithCancel(context.Background())
	s.stopListen, s.listenDone = cancel, make(chan struct{})
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.ConnectConfig(ctx, s.listenConf.Copy())
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				s.log.Warn("postgres store: listen for config changes; reconnecting", "target", s.target, "err", err)
			}
		},
		ReconnectDelay: listenReconnectDelay,
	}
	l.Handle(notifyChannel, wakeHandler{s})
	go func() {
		defer close(s.listenDone)
		l.Listen(ctx) // returns only when ctx ends
	}()
}

// wakeHandler wakes waiters on a notification and after each LISTEN.
type wakeHandler struct{ s *Store }

func (h wakeHandler) HandleNotification(context.Context, *pgconn.Notification, *pgx.Conn) error {
	h.s.wake.Wake()
	return nil
}

func (h wakeHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.s.wake.Wake()
	return nil
}
