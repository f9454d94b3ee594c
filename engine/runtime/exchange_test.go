package runtime

import (
	"context"
	"testing"
	"time"
)

// A sender waiting for its target queue to empty (the budget is spent) goes on when the
// receiver takes the last message, also when that message holds no bytes (a watermark):
// that release used to wake nobody, and a job whose sources both waited so stalled forever.
func TestBudgetWakesSenderWhenQueueEmptiesWithoutBytes(t *testing.T) {
	b := newBudget(10)
	b.Used = 10
	in := make(chan Message, 2)
	in <- Message{Kind: MsgWatermark, N: 1}
	done := make(chan error, 1)
	go func() { done <- b.acquire(context.Background(), 60, func() bool { return len(in) == 0 }) }()
	for {
		b.Mu.Lock()
		w := b.waiting
		b.Mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	m := <-in
	b.release(m.bytes)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the sender was not woken when its target queue emptied")
	}
	if b.Used != 70 {
		t.Fatalf("used = %d, want 70", b.Used)
	}
}
