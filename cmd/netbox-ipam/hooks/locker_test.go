package hooks

import (
	"context"
	"sync"
)

// memLocker is the unit tests' Locker: one token per key, in this process. waiting
// is told when a caller finds a key held and waits for it (a try, with ctx already
// done, returns at once as the file lock does); release runs just before a key is let
// go. Neither sleeps: a test orders two hooks by them.
type memLocker struct {
	mu      sync.Mutex
	held    map[string]chan struct{}
	waiting func(key string)
	release func(key string)
}

func (l *memLocker) lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if l.held == nil {
		l.held = map[string]chan struct{}{}
	}
	token, ok := l.held[key]
	if !ok {
		token = make(chan struct{}, 1)
		token <- struct{}{}
		l.held[key] = token
	}
	l.mu.Unlock()
	select {
	case <-token:
	default:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if l.waiting != nil {
			l.waiting(key)
		}
		select {
		case <-token:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return func() {
		if l.release != nil {
			l.release(key)
		}
		token <- struct{}{}
	}, nil
}
